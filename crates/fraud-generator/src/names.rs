//! Word lists the generator draws from. Invented or common public names; no row of any
//! real data set is copied here.

/// A home town: name, state, ZIP, coordinates and population.
#[derive(Debug)]
pub struct Town {
    pub city: &'static str,
    pub state: &'static str,
    pub zip: &'static str,
    pub lat: f64,
    pub long: f64,
    pub pop: u64,
}

macro_rules! town {
    ($city:expr, $state:expr, $zip:expr, $lat:expr, $long:expr, $pop:expr) => {
        Town {
            city: $city,
            state: $state,
            zip: $zip,
            lat: $lat,
            long: $long,
            pop: $pop,
        }
    };
}

pub static TOWNS: [Town; 40] = [
    town!("Springfield", "IL", "62701", 39.7817, -89.6501, 114_000),
    town!("Columbus", "OH", "43215", 39.9612, -82.9988, 905_000),
    town!("Boise", "ID", "83702", 43.6150, -116.2023, 235_000),
    town!("Burlington", "VT", "05401", 44.4759, -73.2121, 44_000),
    town!("Asheville", "NC", "28801", 35.5951, -82.5515, 94_000),
    town!("Fargo", "ND", "58102", 46.8772, -96.7898, 125_000),
    town!("Tucson", "AZ", "85701", 32.2226, -110.9747, 542_000),
    town!("Duluth", "MN", "55802", 46.7867, -92.1005, 86_000),
    town!("Savannah", "GA", "31401", 32.0809, -81.0912, 147_000),
    town!("Billings", "MT", "59101", 45.7833, -108.5007, 117_000),
    town!("Eugene", "OR", "97401", 44.0521, -123.0868, 176_000),
    town!("Lubbock", "TX", "79401", 33.5779, -101.8552, 257_000),
    town!("Bangor", "ME", "04401", 44.8016, -68.7712, 31_000),
    town!("Cheyenne", "WY", "82001", 41.1400, -104.8202, 65_000),
    town!("Erie", "PA", "16501", 42.1292, -80.0851, 94_000),
    town!("Macon", "GA", "31201", 32.8407, -83.6324, 157_000),
    town!("Pueblo", "CO", "81003", 38.2544, -104.6091, 111_000),
    town!("Sioux Falls", "SD", "57104", 43.5446, -96.7311, 192_000),
    town!("Mobile", "AL", "36602", 30.6954, -88.0399, 187_000),
    town!("Reno", "NV", "89501", 39.5296, -119.8138, 264_000),
    town!("Topeka", "KS", "66603", 39.0473, -95.6752, 126_000),
    town!("Lafayette", "LA", "70501", 30.2241, -92.0198, 121_000),
    town!("Dayton", "OH", "45402", 39.7589, -84.1916, 137_000),
    town!("Flagstaff", "AZ", "86001", 35.1983, -111.6513, 76_000),
    town!("Roanoke", "VA", "24011", 37.2710, -79.9414, 100_000),
    town!("Casper", "WY", "82601", 42.8501, -106.3252, 59_000),
    town!("Missoula", "MT", "59802", 46.8721, -113.9940, 75_000),
    town!("Waco", "TX", "76701", 31.5493, -97.1467, 139_000),
    town!("Ithaca", "NY", "14850", 42.4440, -76.5019, 32_000),
    town!("Bend", "OR", "97701", 44.0582, -121.3153, 100_000),
    town!("Ames", "IA", "50010", 42.0308, -93.6319, 66_000),
    town!("Keene", "NH", "03431", 42.9337, -72.2781, 23_000),
    town!("Laramie", "WY", "82070", 41.3114, -105.5911, 32_000),
    town!("Athens", "GA", "30601", 33.9519, -83.3576, 127_000),
    town!("Elko", "NV", "89801", 40.8324, -115.7631, 20_000),
    town!("Hilo", "HI", "96720", 19.7071, -155.0885, 45_000),
    town!("Juneau", "AK", "99801", 58.3019, -134.4197, 32_000),
    town!("Marfa", "TX", "79843", 30.3094, -104.0206, 1_800),
    town!("Ely", "MN", "55731", 47.9032, -91.8671, 3_300),
    town!("Lander", "WY", "82520", 42.8330, -108.7307, 7_500),
];

pub static FEMALE_FIRST: [&str; 24] = [
    "Mary", "Linda", "Susan", "Karen", "Nancy", "Lisa", "Emily", "Laura", "Anna", "Julia", "Grace",
    "Chloe", "Megan", "Rachel", "Hannah", "Olivia", "Sofia", "Alice", "Diana", "Ruth", "Paula",
    "Irene", "Martha", "Vera",
];

pub static MALE_FIRST: [&str; 24] = [
    "James", "John", "Michael", "David", "Daniel", "Paul", "Mark", "Steven", "Andrew", "Kevin",
    "Brian", "Eric", "Adam", "Henry", "Samuel", "Peter", "Victor", "Oscar", "Ralph", "Walter",
    "Louis", "Aaron", "Felix", "Hugo",
];

pub static LAST: [&str; 40] = [
    "Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Moore", "Taylor", "Thomas", "White",
    "Harris", "Clark", "Lewis", "Walker", "Hall", "Allen", "Young", "King", "Wright", "Scott",
    "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter",
    "Phillips", "Evans", "Turner", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Rogers",
    "Reed", "Cook",
];

pub static STREET_SUFFIXES: [&str; 8] = [
    "Street",
    "Avenue",
    "Road",
    "Lane",
    "Drive",
    "Court",
    "Way",
    "Place Apt. 12",
];

/// Jobs; some contain commas and quotes on purpose, like the public data's.
pub static JOBS: [&str; 24] = [
    "Accountant",
    "Teacher, primary school",
    "Nurse",
    "Civil engineer",
    "Pharmacist",
    "Designer, interior",
    "Software developer",
    "Electrician",
    "Chef",
    "Librarian",
    "Surveyor, land",
    "Radio producer",
    "Dentist",
    "Firefighter",
    "Journalist",
    "Engineer, \"chemical\"",
    "Architect",
    "Farmer",
    "Pilot, airline",
    "Lawyer",
    "Veterinary surgeon",
    "Photographer",
    "Police officer",
    "Economist",
];

/// Merchant name stems (the Sparkov files prefix every merchant with `fraud_`).
pub static MERCHANTS: [&str; 30] = [
    "Abbott LLC",
    "Baxter-Hale",
    "Corwin Group",
    "Dunmore Inc",
    "Ellery and Sons",
    "Fenwick-Orr",
    "Garrick Ltd",
    "Holloway, Pike and Vance",
    "Ingram Stores",
    "Jasper Co",
    "Kessler-Lund",
    "Larkin PLC",
    "Marlow Trading",
    "Norcross Inc",
    "Oakley-Reid",
    "Prescott LLC",
    "Quill and Sons",
    "Rowan Market",
    "Sutter Group",
    "Thorne-Wade",
    "Upton Inc",
    "Vale Goods",
    "Whitmore LLC",
    "Yarrow Co",
    "Zeller-Banks",
    "Ashby Outlet",
    "Brennan Shop",
    "Crane and Lowe",
    "Dorsey Mart",
    "Everly Inc",
];
