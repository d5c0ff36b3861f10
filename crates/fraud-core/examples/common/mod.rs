//! What the model-comparison examples share: loading a labelled CSV for training.

use fraud_core::artifact::sha256_hex;
use fraud_core::csv_input::read_transactions;
use fraud_core::train::{prepare, DataSource, Prepared};

/// The labelled data at `path`, prepared for training, and where it came from.
pub fn load_labelled(path: &str) -> (Prepared, DataSource) {
    let bytes = std::fs::read(path).expect("data");
    let txs = read_transactions(bytes.as_slice(), |_| {}).expect("csv");
    let data = prepare(txs).expect("labelled");
    let source = DataSource {
        uri: path.to_owned(),
        sha256: sha256_hex(&bytes),
    };
    (data, source)
}
