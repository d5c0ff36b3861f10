//! Permutation importance: how much the model's PR-AUC drops when one feature's column
//! is shuffled across the evaluated rows. It needs only a way to score rows, so it works
//! for any model and says what matters on the data reported, not in training.

use crate::curves::average_precision;
use crate::input::FeatureImportance;

/// How [`permutation_importance`] measures, for the figure's axis.
pub const METHOD: &str = "Drop in PR-AUC when the feature is shuffled (permutation importance)";

/// Rows used at most (evenly spaced), to bound the cost on large slices.
pub const MAX_ROWS: usize = 20_000;

/// Deterministic random numbers (SplitMix64) for the shuffles: no dependency, same
/// importances for the same model and rows.
struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z % n as u64) as usize
    }
}

/// The importance of each of `names` (one per column of the rows), scoring with
/// `predict`. `rows` and `labels` are aligned.
pub fn permutation_importance<R>(
    rows: &[R],
    labels: &[bool],
    names: &[String],
    predict: impl Fn(&[R]) -> Vec<f64>,
    seed: u64,
) -> Vec<FeatureImportance>
where
    R: Clone + AsRef<[f64]> + AsMut<[f64]>,
{
    assert_eq!(rows.len(), labels.len(), "one label per row");
    let step = rows.len().div_ceil(MAX_ROWS).max(1);
    let mut work: Vec<R> = rows.iter().step_by(step).cloned().collect();
    let labels: Vec<bool> = labels.iter().step_by(step).copied().collect();
    let baseline = average_precision(&labels, &predict(&work));
    let mut rng = SplitMix(seed);
    let n = work.len();
    names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let original: Vec<f64> = work.iter().map(|r| r.as_ref()[j]).collect();
            let mut column = original.clone();
            for i in (1..n).rev() {
                column.swap(i, rng.below(i + 1));
            }
            for (row, v) in work.iter_mut().zip(&column) {
                row.as_mut()[j] = *v;
            }
            let shuffled = average_precision(&labels, &predict(&work));
            for (row, v) in work.iter_mut().zip(&original) {
                row.as_mut()[j] = *v;
            }
            FeatureImportance {
                name: name.clone(),
                importance: baseline - shuffled,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_feature_the_model_reads_matters() {
        // Label = first column > 0.5; the model reads column 0 only.
        let rows: Vec<[f64; 2]> = (0..400)
            .map(|i| [(i % 100) as f64 / 100.0, ((i * 37) % 100) as f64 / 100.0])
            .collect();
        let labels: Vec<bool> = rows.iter().map(|r| r[0] > 0.5).collect();
        let names = vec!["signal".to_owned(), "noise".to_owned()];
        let imp = permutation_importance(
            &rows,
            &labels,
            &names,
            |rs| rs.iter().map(|r| r[0]).collect(),
            1,
        );
        assert!(imp[0].importance > 0.3, "{imp:?}");
        assert_eq!(imp[1].importance, 0.0, "{imp:?}");
    }
}
