//! Where the simulator's transactions come from: the synthetic generator, a user's CSV
//! file, or a list handed over by a test.
//!
//! All three feed one look-ahead buffer, so a page can be *looked at* without being
//! *taken*. The server needs that split: a fault such as a truncated body shows the
//! next page to the client in a broken form, and those transactions must still be
//! served, intact, by the next healthy call. The generator and the CSV are pulled
//! lazily (a day or a page at a time), so a year of generated data or a full
//! `fraudTest.csv` costs no startup time and little memory.

use std::collections::VecDeque;
use std::fs::File;
use std::path::PathBuf;

use fraud_core::csv_input::CsvTransactions;
use fraud_core::Transaction;
use fraud_generator::{Generator, GeneratorConfig};

use crate::SimError;

/// Which transactions the simulator serves.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceConfig {
    /// Synthetic Sparkov-like payments, day by day, deterministic by seed. The source
    /// ends after `days` days.
    Generator(GeneratorConfig),
    /// Rows of a Sparkov CSV file, in file order. Bad rows are skipped and counted.
    Csv(PathBuf),
    /// Exactly these transactions, in this order (for tests that need known rows).
    Transactions(Vec<Transaction>),
}

impl SourceConfig {
    /// Short name for logs and `/stats`.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::Generator(_) => "generator",
            SourceConfig::Csv(_) => "csv",
            SourceConfig::Transactions(_) => "transactions",
        }
    }
}

/// Where new rows come from once the buffer runs dry.
enum Feed {
    Generator {
        generator: Generator,
        next_day: u32,
    },
    Csv {
        // Boxed: the reader carries a large record buffer and the other variants don't.
        rows: Box<CsvTransactions<File>>,
        path: PathBuf,
    },
    /// Nothing more: every row is in the buffer already (or was served).
    Done,
}

/// An opened source with its look-ahead buffer.
pub(crate) struct Source {
    feed: Feed,
    days: u32,
    buffer: VecDeque<Transaction>,
    skipped_rows: u64,
}

impl Source {
    /// Opens the source: builds the generator's customers or reads the CSV header, so
    /// configuration mistakes surface at startup rather than on the first call.
    pub(crate) fn open(config: SourceConfig) -> Result<Self, SimError> {
        let (feed, days, buffer) = match config {
            SourceConfig::Generator(config) => {
                let days = config.days;
                let generator = Generator::new(config)?;
                let feed = Feed::Generator {
                    generator,
                    next_day: 0,
                };
                (feed, days, VecDeque::new())
            }
            SourceConfig::Csv(path) => {
                let rows = CsvTransactions::open(&path).map_err(|source| SimError::Csv {
                    path: path.display().to_string(),
                    source,
                })?;
                (
                    Feed::Csv {
                        rows: Box::new(rows),
                        path,
                    },
                    0,
                    VecDeque::new(),
                )
            }
            SourceConfig::Transactions(txs) => (Feed::Done, 0, txs.into()),
        };
        Ok(Source {
            feed,
            days,
            buffer,
            skipped_rows: 0,
        })
    }

    /// Up to `n` next transactions, without taking them.
    pub(crate) fn peek(&mut self, n: usize) -> &[Transaction] {
        self.fill(n);
        let n = n.min(self.buffer.len());
        &self.buffer.make_contiguous()[..n]
    }

    /// Takes (drops) the `n` transactions that [`Source::peek`] showed.
    pub(crate) fn take(&mut self, n: usize) {
        let n = n.min(self.buffer.len());
        self.buffer.drain(..n);
    }

    /// Transactions left, when known without reading ahead: always for a list, and for
    /// the generator and the CSV once their last day or row has been read.
    pub(crate) fn remaining(&self) -> Option<u64> {
        matches!(self.feed, Feed::Done).then_some(self.buffer.len() as u64)
    }

    /// True once every transaction has been taken.
    pub(crate) fn is_exhausted(&self) -> bool {
        self.remaining() == Some(0)
    }

    /// CSV rows skipped because they did not parse.
    pub(crate) fn skipped_rows(&self) -> u64 {
        self.skipped_rows
    }

    fn fill(&mut self, n: usize) {
        while self.buffer.len() < n {
            match &mut self.feed {
                Feed::Done => return,
                Feed::Generator {
                    generator,
                    next_day,
                } => {
                    if *next_day >= self.days {
                        self.feed = Feed::Done;
                        continue;
                    }
                    let day = generator.day(*next_day);
                    tracing::debug!(day = *next_day, rows = day.len(), "generated a day");
                    *next_day += 1;
                    self.buffer.extend(day);
                }
                Feed::Csv { rows, path } => match rows.next() {
                    None => {
                        tracing::info!(
                            path = %path.display(),
                            skipped_rows = self.skipped_rows,
                            "reached the end of the CSV source"
                        );
                        self.feed = Feed::Done;
                    }
                    Some(Ok(Ok(tx))) => self.buffer.push_back(tx),
                    Some(Ok(Err(rejection))) => {
                        self.skipped_rows += 1;
                        tracing::warn!(
                            path = %path.display(),
                            line = rejection.line,
                            trans_num = rejection.trans_num.as_deref().unwrap_or(""),
                            reason = %rejection.reason,
                            skipped_rows = self.skipped_rows,
                            "skipping a bad CSV row"
                        );
                    }
                    Some(Err(error)) => {
                        // The file cannot be read further (an I/O error): serving what
                        // was read and then empty pages beats failing every call.
                        tracing::error!(
                            path = %path.display(),
                            %error,
                            "cannot read the CSV source further; treating it as ended"
                        );
                        self.feed = Feed::Done;
                    }
                },
            }
        }
    }
}

/// One line describing the source, for the startup log.
pub(crate) fn describe(config: &SourceConfig) -> String {
    match config {
        SourceConfig::Generator(g) => format!(
            "generator seed={} customers={} start={} days={}",
            g.seed, g.customers, g.start, g.days
        ),
        SourceConfig::Csv(path) => format!("csv {}", path.display()),
        SourceConfig::Transactions(txs) => format!("{} given transactions", txs.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_generator(days: u32) -> SourceConfig {
        SourceConfig::Generator(GeneratorConfig {
            customers: 20,
            days,
            ..GeneratorConfig::default()
        })
    }

    #[test]
    fn peek_does_not_take() {
        let mut source = Source::open(small_generator(1)).unwrap();
        let first: Vec<String> = source.peek(3).iter().map(|t| t.trans_num.clone()).collect();
        let again: Vec<String> = source.peek(3).iter().map(|t| t.trans_num.clone()).collect();
        assert_eq!(first, again);
        source.take(3);
        assert_ne!(source.peek(1)[0].trans_num, first[0]);
    }

    #[test]
    fn generator_source_serves_every_day_then_ends() {
        let expected: Vec<Transaction> = Generator::new(GeneratorConfig {
            customers: 20,
            days: 2,
            ..GeneratorConfig::default()
        })
        .unwrap()
        .all()
        .collect();
        let mut source = Source::open(small_generator(2)).unwrap();
        assert_eq!(source.remaining(), None);
        let mut served = Vec::new();
        loop {
            let page = source.peek(7).to_vec();
            if page.is_empty() {
                break;
            }
            source.take(page.len());
            served.extend(page);
        }
        assert_eq!(served, expected);
        assert!(source.is_exhausted());
    }

    #[test]
    fn missing_csv_is_an_error_naming_the_path() {
        let err = Source::open(SourceConfig::Csv("/no/such/file.csv".into()))
            .err()
            .unwrap();
        assert!(err.to_string().contains("/no/such/file.csv"), "{err}");
    }
}
