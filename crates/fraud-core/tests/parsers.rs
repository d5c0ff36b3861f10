//! Property tests: every parser accepts what the writers produce, never panics on
//! arbitrary input, and the online feature pipeline equals the offline one.

use chrono::{Duration, NaiveDate};
use fraud_core::api_frame::{encode_body, parse_body};
use fraud_core::csv_input::{read_transactions, write_transactions, CsvTransactions};
use fraud_core::features::{featurize_in_time_order, CardHistory};
use fraud_core::{Category, Gender, Transaction};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    // Printable text with the characters that trouble CSV and JSON writers.
    "[A-Za-z0-9 ,\"'/._-]{1,40}"
        .prop_filter("not blank", |s| !s.trim().is_empty())
        .prop_map(|s| s.trim().to_owned())
}

prop_compose! {
    fn transaction()(
        secs in 0i64..(3 * 365 * 86_400),
        cc_num in 1u64..u64::MAX / 2,
        merchant in text(),
        category in 0usize..14,
        cents in 0u64..5_000_000,
        first in text(), last in text(), female in any::<bool>(),
        street in text(), city in text(), state in "[A-Z]{2}", zip in "[0-9]{5}",
        lat in -89.0f64..89.0, long in -179.0f64..179.0,
        city_pop in 0u64..10_000_000, job in text(),
        age_days in 6_600i64..33_000,
        trans_num in "[0-9a-f]{32}",
        dlat in -1.0f64..1.0, dlong in -1.0f64..1.0,
        label in proptest::option::of(any::<bool>()),
    ) -> Transaction {
        let at = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap() + Duration::seconds(secs);
        Transaction {
            trans_date_trans_time: at,
            cc_num,
            merchant,
            category: Category::ALL[category],
            amt: cents as f64 / 100.0,
            first, last,
            gender: if female { Gender::Female } else { Gender::Male },
            street, city, state, zip,
            lat: (lat * 1e4).round() / 1e4,
            long: (long * 1e4).round() / 1e4,
            city_pop, job,
            dob: at.date() - Duration::days(age_days),
            trans_num,
            unix_time: Some(at.and_utc().timestamp()),
            merch_lat: ((lat + dlat) * 1e6).round() / 1e6,
            merch_long: ((long + dlong) * 1e6).round() / 1e6,
            is_fraud: label,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn csv_round_trips_any_valid_transaction(txs in prop::collection::vec(transaction(), 1..20)) {
        let mut buf = Vec::new();
        write_transactions(&mut buf, &txs).unwrap();
        let back = read_transactions(buf.as_slice(), |r| panic!("rejected {r}")).unwrap();
        prop_assert_eq!(back, txs);
    }

    #[test]
    fn json_message_round_trips_any_valid_transaction(tx in transaction()) {
        prop_assert_eq!(Transaction::from_json(&tx.to_json()).unwrap(), tx);
    }

    #[test]
    fn api_frame_round_trips_any_valid_transaction(txs in prop::collection::vec(transaction(), 1..20)) {
        let rows = parse_body(&encode_body(&txs, 0, true)).unwrap();
        for (row, tx) in rows.into_iter().zip(&txs) {
            let mut expected = tx.clone();
            expected.unix_time = None; // the API sends current_time instead
            prop_assert_eq!(row.unwrap(), expected);
        }
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Transaction::from_json(&bytes);
        let _ = parse_body(&bytes);
        if let Ok(reader) = CsvTransactions::new(bytes.as_slice()) {
            for row in reader { let _ = row; }
        }
    }

    #[test]
    fn parsers_never_panic_on_mangled_valid_input(tx in transaction(), cut in 0usize..600, byte in any::<u8>()) {
        let json = tx.to_json();
        let mut mangled = json.clone();
        if !mangled.is_empty() {
            let at = cut % mangled.len();
            mangled[at] = byte;
            let _ = Transaction::from_json(&mangled);
            let _ = Transaction::from_json(&json[..at]);
        }
        let body = encode_body([&tx], 0, false);
        let _ = parse_body(&body[..cut.min(body.len())]);
    }

    /// Online scoring keeps one CardHistory per card, persisted (serialized) between
    /// payments; offline training walks the whole file. Both must give the same features.
    #[test]
    fn online_features_equal_offline_features(
        cards in prop::collection::vec(1u64..6, 1..60),
        gaps in prop::collection::vec(0i64..200_000, 60),
        amounts in prop::collection::vec(1u64..100_000, 60),
        base in transaction(),
    ) {
        let mut txs = Vec::new();
        let mut at = base.trans_date_trans_time;
        for (i, card) in cards.iter().enumerate() {
            at += Duration::seconds(gaps[i]);
            let mut tx = base.clone();
            tx.cc_num = *card;
            tx.trans_date_trans_time = at;
            tx.amt = amounts[i] as f64 / 100.0;
            tx.trans_num = format!("t{i}");
            txs.push(tx);
        }
        let offline = featurize_in_time_order(&txs);
        let mut store: std::collections::HashMap<u64, String> = Default::default();
        for (tx, expected) in txs.iter().zip(&offline) {
            let mut history: CardHistory = store
                .get(&tx.cc_num)
                .map(|s| serde_json::from_str(s).unwrap())
                .unwrap_or_default();
            let online = history.observe(tx);
            store.insert(tx.cc_num, serde_json::to_string(&history).unwrap());
            prop_assert_eq!(&online, expected);
        }
    }
}
