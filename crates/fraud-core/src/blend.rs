//! Blends ([`Learner::Blend`]): two or more fitted component models, each with its own
//! Platt calibration fitted on validation, combined by a weighted mean of their
//! calibrated log-odds or probabilities ([`crate::model::BlendParams`]). Here: fitting a
//! blend from its components ([`Forest::blend_of`]), its output, its attribution and its
//! checks, as methods of [`Forest`].

use crate::calibration::Calibration;
use crate::features::{FeatureVector, N_FEATURES};
use crate::gbm::sigmoid;
use crate::model::{Attribution, AttributionSpace, BlendComponent, CompiledCache, Forest};
use crate::params::{BlendSpace, BlendWeighting, FitError, ForestParams, Learner};

/// Weights a two-component blend may take for its first component under
/// [`BlendWeighting::Validation`] (tenths).
const BLEND_WEIGHT_STEPS: u32 = 10;

impl Forest {
    /// Trees in the model, those of a blend's components included.
    pub fn tree_count(&self) -> usize {
        self.trees.len()
            + self
                .components
                .iter()
                .map(|c| c.model.tree_count())
                .sum::<usize>()
    }

    /// A blend of already fitted `components` (in the order of `params.blend`): each
    /// gets its Platt calibration on `validation` (identity without one), then the
    /// weights are set as `params.blend.weighting` says (equal without validation).
    pub fn blend_of(
        params: &ForestParams,
        components: Vec<Forest>,
        validation: Option<(&[FeatureVector], &[bool])>,
    ) -> Result<Forest, FitError> {
        let spec = match (&params.learner, &params.blend) {
            (Learner::Blend, Some(spec)) => spec,
            _ => {
                return Err(FitError::Params(
                    "blend_of needs blend parameters (learner `blend` with `blend`)".into(),
                ))
            }
        };
        if components.len() < 2 || components.len() != spec.components.len() {
            return Err(FitError::Params(format!(
                "a blend needs at least two components, one per entry of `blend.components` ({} given for {})",
                components.len(),
                spec.components.len()
            )));
        }
        // A component given with automatic settings (boosting's `bags` = 0) matches the
        // model fitted from it, and the blend records what that model decided.
        let mut params = params.clone();
        if let Some(spec) = &mut params.blend {
            for (c, fitted) in spec.components.iter_mut().zip(&components) {
                if c.learner == Learner::Gbm && c.gbm.bags == 0 {
                    c.gbm.bags = fitted.params.gbm.bags;
                }
            }
        }
        let spec = params.blend.as_ref().expect("checked above");
        if let Some(i) = (0..components.len()).find(|&i| {
            components[i].params != spec.components[i]
                || components[i].params.learner == Learner::Blend
        }) {
            return Err(FitError::Params(format!(
                "blend component {i} is not the model `blend.components[{i}]` describes (or is a blend)"
            )));
        }
        let k = components.len();
        let raws: Option<Vec<Vec<f64>>> =
            validation.map(|(xv, _)| components.iter().map(|c| c.predict_many(xv)).collect());
        let mut blend = Forest {
            params: params.clone(),
            trees: Vec::new(),
            components: components
                .into_iter()
                .enumerate()
                .map(|(i, model)| BlendComponent {
                    calibration: match (&raws, validation) {
                        (Some(raws), Some((_, yv))) => Calibration::fit(yv, &raws[i]),
                        _ => Calibration::IDENTITY,
                    },
                    model,
                    weight: 1.0 / k as f64,
                })
                .collect(),
            compiled: CompiledCache::default(),
        };
        if let (BlendWeighting::Validation, 2, Some(raws), Some((_, yv))) =
            (spec.weighting, k, &raws, validation)
        {
            let mut best: Option<(f64, u32)> = None;
            for step in 0..=BLEND_WEIGHT_STEPS {
                let w = f64::from(step) / f64::from(BLEND_WEIGHT_STEPS);
                blend.components[0].weight = w;
                blend.components[1].weight = 1.0 - w;
                let scores: Vec<f64> = (0..yv.len())
                    .map(|i| blend.blend_output(raws.iter().map(|r| r[i])))
                    .collect();
                let ap = crate::metrics::average_precision(yv, &scores);
                let off_centre = |s: u32| s.abs_diff(BLEND_WEIGHT_STEPS / 2);
                if best.is_none_or(|(b, s)| ap > b || (ap == b && off_centre(step) < off_centre(s)))
                {
                    best = Some((ap, step));
                }
            }
            let (_, step) = best.expect("eleven weights tried");
            let w = f64::from(step) / f64::from(BLEND_WEIGHT_STEPS);
            blend.components[0].weight = w;
            blend.components[1].weight = 1.0 - w;
        }
        Ok(blend)
    }

    fn blend_space(&self) -> BlendSpace {
        self.params
            .blend
            .as_ref()
            .map_or(BlendSpace::LogOdds, |b| b.space)
    }

    /// A blend's output from its components' raw scores (in component order).
    pub(crate) fn blend_output(&self, raws: impl Iterator<Item = f64>) -> f64 {
        let space = self.blend_space();
        let mut sum = 0.0;
        for (c, raw) in self.components.iter().zip(raws) {
            sum += c.weight
                * match space {
                    BlendSpace::LogOdds => c.calibration.log_odds(raw),
                    BlendSpace::Probability => c.calibration.apply(raw),
                };
        }
        match space {
            BlendSpace::LogOdds => sigmoid(sum),
            BlendSpace::Probability => sum.clamp(0.0, 1.0),
        }
    }

    /// A blend's attribution, in its averaging space: each component's path attribution
    /// is carried into that space through the component's calibration by the secant
    /// from its base to its output (the same factor for every feature, so each
    /// component's ranking of features is kept and its contributions still add up to
    /// its share of the blend), then weighted and summed.
    pub(crate) fn explain_blend(&self, x: &FeatureVector) -> Attribution {
        let space = self.blend_space();
        let mut contributions = [0.0; N_FEATURES];
        let mut base = 0.0;
        for c in &self.components {
            let a = c.model.explain(x);
            let into_blend = |v: f64| {
                let raw = match a.space {
                    AttributionSpace::Probability => v.clamp(0.0, 1.0),
                    AttributionSpace::LogOdds => sigmoid(v),
                };
                match space {
                    BlendSpace::LogOdds => c.calibration.log_odds(raw),
                    BlendSpace::Probability => c.calibration.apply(raw),
                }
            };
            let (from, to) = (into_blend(a.base), into_blend(a.output));
            let moved = a.output - a.base;
            let scale = if moved.abs() > 1e-12 {
                (to - from) / moved
            } else {
                // No net move: the local slope (contributions cancel out anyway).
                let h = 1e-6;
                (into_blend(a.base + h) - into_blend(a.base - h)) / (2.0 * h)
            };
            base += c.weight * from;
            for (out, v) in contributions.iter_mut().zip(a.contributions) {
                *out += c.weight * scale * v;
            }
        }
        Attribution {
            base,
            contributions,
            output: base + contributions.iter().sum::<f64>(),
            space: match space {
                BlendSpace::LogOdds => AttributionSpace::LogOdds,
                BlendSpace::Probability => AttributionSpace::Probability,
            },
        }
    }

    pub(crate) fn validate_blend(&self) -> Result<(), String> {
        let spec = self
            .params
            .blend
            .as_ref()
            .ok_or("a blend without its `blend` parameters")?;
        if !self.trees.is_empty() {
            return Err("a blend has trees of its own; only its components may".into());
        }
        if self.components.len() < 2 || self.components.len() != spec.components.len() {
            return Err(format!(
                "a blend needs at least two components, one per `blend.components` entry; it has {} for {}",
                self.components.len(),
                spec.components.len()
            ));
        }
        let mut total = 0.0;
        for (i, c) in self.components.iter().enumerate() {
            if c.model.params.learner == Learner::Blend || !c.model.components.is_empty() {
                return Err(format!("blend component {i} is itself a blend"));
            }
            if c.model.params != spec.components[i] {
                return Err(format!(
                    "blend component {i} does not match `blend.components[{i}]`"
                ));
            }
            if !(c.weight.is_finite() && c.weight >= 0.0) {
                return Err(format!(
                    "blend component {i} has weight {}; weights are non-negative",
                    c.weight
                ));
            }
            total += c.weight;
            c.calibration
                .validate()
                .map_err(|e| format!("blend component {i}: {e}"))?;
            c.model
                .validate()
                .map_err(|e| format!("blend component {i}: {e}"))?;
        }
        if (total - 1.0).abs() > 1e-9 {
            return Err(format!("blend weights add up to {total}, not 1"));
        }
        Ok(())
    }
}
