//! Reading Sparkov CSV files (`fraudTrain.csv`, `fraudTest.csv`, our generator's output).
//!
//! Columns are found by header name, so the leading unnamed index column of the public
//! files (header `""` or `Unnamed: 0`) and any extra columns are ignored. A bad row does
//! not stop the read: it comes back as a [`Rejection`] with its line and reason.

use std::io::Read;
use std::path::Path;

use crate::error::{RecordError, Rejection};
use crate::schema::{Transaction, API_TIME_COLUMN, COLUMNS, REQUIRED_COLUMNS};

/// Errors that stop reading a CSV file altogether.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("the CSV header lacks the column `{column}` (found: {found})")]
    MissingColumn { column: &'static str, found: String },
    #[error("cannot read the CSV input: {0}")]
    Read(#[from] csv::Error),
}

/// Columns the reader looks up: the Sparkov columns plus the API's `current_time`.
const LOOKUP: [&str; 23] = {
    let mut all = [""; 23];
    let mut i = 0;
    while i < COLUMNS.len() {
        all[i] = COLUMNS[i];
        i += 1;
    }
    all[22] = API_TIME_COLUMN;
    all
};

/// Streams transactions out of a Sparkov CSV.
/// Largest CSV row accepted, in bytes (a valid row is well under 1 KiB; every field is
/// also capped at [`crate::schema::MAX_FIELD_BYTES`]).
pub const MAX_ROW_BYTES: usize = 64 * 1024;

pub struct CsvTransactions<R> {
    reader: csv::Reader<R>,
    positions: [Option<usize>; 23],
    width: usize,
    record: csv::StringRecord,
}

impl CsvTransactions<std::fs::File> {
    /// Opens a CSV file.
    pub fn open(path: &Path) -> Result<Self, CsvError> {
        let file = std::fs::File::open(path).map_err(|source| CsvError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Self::new(file)
    }
}

impl<R: Read> CsvTransactions<R> {
    /// Reads the header and checks that the required columns are there.
    pub fn new(input: R) -> Result<Self, CsvError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(input);
        let headers = reader.headers()?.clone();
        let mut positions = [None; 23];
        for (slot, name) in positions.iter_mut().zip(LOOKUP) {
            *slot = headers.iter().position(|h| h.trim() == name);
        }
        let has = |name: &str| {
            LOOKUP
                .iter()
                .position(|c| *c == name)
                .and_then(|i| positions[i])
                .is_some()
        };
        let found = || headers.iter().collect::<Vec<_>>().join(",");
        for column in REQUIRED_COLUMNS {
            if !has(column) {
                return Err(CsvError::MissingColumn {
                    column,
                    found: found(),
                });
            }
        }
        if !has("trans_date_trans_time") && !has(API_TIME_COLUMN) {
            return Err(CsvError::MissingColumn {
                column: "trans_date_trans_time",
                found: found(),
            });
        }
        Ok(CsvTransactions {
            reader,
            positions,
            width: headers.len(),
            record: csv::StringRecord::new(),
        })
    }

    fn rejection(&self, reason: String) -> Rejection {
        let trans_num = self.positions[17]
            .and_then(|i| self.record.get(i))
            .filter(|t| !t.is_empty() && t.len() <= 64)
            .map(str::to_owned);
        let mut raw = csv::Writer::from_writer(Vec::new());
        let _ = raw.write_record(&self.record);
        let raw = String::from_utf8_lossy(&raw.into_inner().unwrap_or_default())
            .trim_end()
            .to_owned();
        Rejection {
            line: self.record.position().map(|p| p.line()).unwrap_or(0),
            trans_num,
            reason,
            raw,
        }
    }
}

impl<R: Read> Iterator for CsvTransactions<R> {
    /// Outer error: the file cannot be read further. Inner: this row was rejected.
    type Item = Result<Result<Transaction, Rejection>, CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let size = self.record.as_byte_record().as_slice().len();
                if size > MAX_ROW_BYTES {
                    let reason =
                        format!("row of {size} bytes exceeds the limit of {MAX_ROW_BYTES}");
                    return Some(Ok(Err(self.rejection(reason))));
                }
                if self.record.len() != self.width {
                    let reason = format!(
                        "expected {} fields, found {}",
                        self.width,
                        self.record.len()
                    );
                    return Some(Ok(Err(self.rejection(reason))));
                }
                let record = &self.record;
                let positions = &self.positions;
                let parsed = Transaction::from_fields(|name| {
                    let slot = LOOKUP.iter().position(|c| *c == name)?;
                    record.get(positions[slot]?)
                });
                Some(Ok(
                    parsed.map_err(|e: RecordError| self.rejection(e.to_string()))
                ))
            }
            Err(e) if !matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                Some(Ok(Err(Rejection {
                    line,
                    trans_num: None,
                    reason: e.to_string(),
                    raw: String::new(),
                })))
            }
            Err(e) => Some(Err(e.into())),
        }
    }
}

/// Reads a whole CSV into memory, calling `on_reject` for each rejected row.
pub fn read_transactions(
    input: impl Read,
    mut on_reject: impl FnMut(Rejection),
) -> Result<Vec<Transaction>, CsvError> {
    let mut out = Vec::new();
    for row in CsvTransactions::new(input)? {
        match row? {
            Ok(tx) => out.push(tx),
            Err(rejection) => on_reject(rejection),
        }
    }
    Ok(out)
}

/// Writes transactions as a Sparkov CSV (header included).
pub fn write_transactions<'a, W: std::io::Write>(
    out: W,
    txs: impl IntoIterator<Item = &'a Transaction>,
) -> Result<(), csv::Error> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(COLUMNS)?;
    for tx in txs {
        writer.write_record(tx.to_record())?;
    }
    writer.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "trans_date_trans_time,cc_num,merchant,category,amt,first,last,gender,street,city,state,zip,lat,long,city_pop,job,dob,trans_num,unix_time,merch_lat,merch_long,is_fraud";
    const ROW: &str = "2019-01-01 06:14:00,4006047418382,fraud_Schmitt Inc,gas_transport,56.09,Robert,Sanchez,M,7314 Johnson Square Apt. 296,Parkers Lake,KY,42634,36.8347,-84.4436,1565,\"Designer, industrial/product\",1968-07-24,8ede8dc6511d9b1f6eba6a226424f861,1325398440,35.945631,-83.733495,0";

    #[test]
    fn reads_file_with_leading_index_column() {
        let text = format!(",{HEADER}\n0,{ROW}\n");
        let txs = read_transactions(text.as_bytes(), |r| panic!("{r}")).unwrap();
        assert_eq!(txs.len(), 1);
        assert_eq!(txs[0].job, "Designer, industrial/product");
    }

    #[test]
    fn bad_rows_are_rejected_with_line_and_reason_and_reading_goes_on() {
        let bad = ROW.replace("56.09", "abc");
        let short = "2019-01-01 06:14:00,1,2";
        let text = format!("{HEADER}\n{ROW}\n{bad}\n{short}\n{ROW}\n");
        let mut rejects = Vec::new();
        let txs = read_transactions(text.as_bytes(), |r| rejects.push(r)).unwrap();
        assert_eq!(txs.len(), 2);
        assert_eq!(rejects.len(), 2);
        assert_eq!(rejects[0].line, 3);
        assert_eq!(rejects[0].reason, "field `amt`: `abc` is not a number");
        assert_eq!(
            rejects[0].trans_num.as_deref(),
            Some("8ede8dc6511d9b1f6eba6a226424f861")
        );
        assert!(rejects[0].raw.contains("abc"));
        assert_eq!(rejects[1].line, 4);
        assert!(rejects[1].reason.contains("expected 22 fields, found 3"));
    }

    #[test]
    fn missing_column_is_a_clear_error() {
        let header = HEADER.replace(",amt,", ",amount,");
        let err = CsvTransactions::new(format!("{header}\n").as_bytes())
            .err()
            .unwrap();
        assert!(err.to_string().contains("lacks the column `amt`"), "{err}");
    }

    #[test]
    fn written_csv_reads_back_identically() {
        let txs = read_transactions(format!("{HEADER}\n{ROW}\n").as_bytes(), |_| {}).unwrap();
        let mut buf = Vec::new();
        write_transactions(&mut buf, &txs).unwrap();
        let back = read_transactions(buf.as_slice(), |r| panic!("{r}")).unwrap();
        assert_eq!(txs, back);
    }
}
