//! Scores detected communities against the ground truth.
//!
//! - **best-match F1** per planted community: over the detected communities, the best
//!   `F1 = 2·|D∩P| / (|D| + |P|)` (with its precision `|D∩P|/|D|` and recall `|D∩P|/|P|`);
//! - **NMI** over the planted communities' members: the truth labels each member with its
//!   community, the detection with the detected community holding it (a member in none is a
//!   singleton); `NMI = 2·I(T;D) / (H(T) + H(D))` (arithmetic normalisation, as scikit-learn's
//!   default), 1 when both partitions are trivial.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::truth::Truth;

/// A detected community: its id and its members' pseudonymous ids.
#[derive(Debug, Clone)]
pub struct Detected {
    /// Community id.
    pub id: String,
    /// Pseudonymous member ids.
    pub members: Vec<String>,
}

/// How well one planted community was found.
#[derive(Debug, Clone, Serialize)]
pub struct PlantedMatch {
    /// Planted id.
    pub planted: String,
    /// Planted members (those who posted).
    pub size: usize,
    /// Best-matching detected community (empty when none overlaps).
    pub detected: String,
    /// Its size.
    pub detected_size: usize,
    /// `|D∩P| / |D|`.
    pub precision: f64,
    /// `|D∩P| / |P|`.
    pub recall: f64,
    /// Harmonic mean.
    pub f1: f64,
}

/// The score of a detection against the truth.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    /// Per planted community.
    pub planted: Vec<PlantedMatch>,
    /// Mean of their F1.
    pub mean_f1: f64,
    /// NMI over the planted members.
    pub nmi: f64,
}

/// Scores `detected` against `truth`; `pseudonymise(platform, handle)` maps the truth's raw
/// handles to the ids murmur stores.
pub fn score(truth: &Truth, detected: &[Detected], pseudonymise: impl Fn(&str, &str) -> String) -> Score {
    let detected_sets: Vec<(&str, HashSet<&str>)> = detected
        .iter()
        .map(|community| (community.id.as_str(), community.members.iter().map(String::as_str).collect()))
        .collect();
    let mut matches = Vec::new();
    let mut truth_labels: Vec<(String, usize)> = Vec::new();
    for (label, community) in truth.planted().enumerate() {
        let members: HashSet<String> =
            community.members.iter().map(|handle| pseudonymise(&community.platform, handle)).collect();
        let mut best = PlantedMatch {
            planted: community.id.clone(),
            size: members.len(),
            detected: String::new(),
            detected_size: 0,
            precision: 0.0,
            recall: 0.0,
            f1: 0.0,
        };
        for (id, set) in &detected_sets {
            let common = members.iter().filter(|member| set.contains(member.as_str())).count();
            if common == 0 {
                continue;
            }
            let f1 = 2.0 * common as f64 / (set.len() + members.len()) as f64;
            if f1 > best.f1 {
                best = PlantedMatch {
                    detected: id.to_string(),
                    detected_size: set.len(),
                    precision: common as f64 / set.len() as f64,
                    recall: common as f64 / members.len() as f64,
                    f1,
                    ..best
                };
            }
        }
        matches.push(best);
        truth_labels.extend(members.into_iter().map(|member| (member, label)));
    }
    let home: HashMap<&str, usize> = detected_sets
        .iter()
        .enumerate()
        .flat_map(|(index, (_, set))| set.iter().map(move |member| (*member, index)))
        .collect();
    let pairs: Vec<(usize, Option<usize>)> =
        truth_labels.iter().map(|(member, label)| (*label, home.get(member.as_str()).copied())).collect();
    let mean_f1 =
        if matches.is_empty() { 0.0 } else { matches.iter().map(|m| m.f1).sum::<f64>() / matches.len() as f64 };
    Score { planted: matches, mean_f1, nmi: nmi(&pairs) }
}

/// NMI of (truth label, detected label) pairs; `None` detections are singletons.
fn nmi(pairs: &[(usize, Option<usize>)]) -> f64 {
    let n = pairs.len() as f64;
    if pairs.is_empty() {
        return 0.0;
    }
    let mut truth_counts: HashMap<usize, f64> = HashMap::new();
    let mut detected_counts: HashMap<(bool, usize), f64> = HashMap::new();
    let mut joint: HashMap<(usize, (bool, usize)), f64> = HashMap::new();
    for (index, (truth, detected)) in pairs.iter().enumerate() {
        let detected = match detected {
            Some(community) => (true, *community),
            None => (false, index),
        };
        *truth_counts.entry(*truth).or_default() += 1.0;
        *detected_counts.entry(detected).or_default() += 1.0;
        *joint.entry((*truth, detected)).or_default() += 1.0;
    }
    let entropy = |counts: &mut dyn Iterator<Item = f64>| -> f64 { counts.map(|c| -(c / n) * (c / n).ln()).sum() };
    let h_truth = entropy(&mut truth_counts.values().copied());
    let h_detected = entropy(&mut detected_counts.values().copied());
    let mutual: f64 = joint
        .iter()
        .map(|((truth, detected), count)| {
            let p = count / n;
            p * (p / ((truth_counts[truth] / n) * (detected_counts[detected] / n))).ln()
        })
        .sum();
    if h_truth + h_detected == 0.0 {
        1.0
    } else {
        2.0 * mutual / (h_truth + h_detected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::truth::{CommunityKind, TruthCommunity};

    fn truth(groups: &[&[&str]]) -> Truth {
        Truth {
            seed: 0,
            start: String::new(),
            end: String::new(),
            posts: 0,
            communities: groups
                .iter()
                .enumerate()
                .map(|(index, members)| TruthCommunity {
                    id: format!("p{index}"),
                    kind: CommunityKind::Planted,
                    platform: "reddit".into(),
                    channel: String::new(),
                    language: "en".into(),
                    onset: String::new(),
                    members: members.iter().map(|m| m.to_string()).collect(),
                    vocabulary: Vec::new(),
                })
                .collect(),
            signals: Vec::new(),
            background_terms: Vec::new(),
            sentiment_shifts: Vec::new(),
        }
    }

    fn detected(id: &str, members: &[&str]) -> Detected {
        Detected { id: id.into(), members: members.iter().map(|m| format!("x{m}")).collect() }
    }

    fn pseudo(_: &str, handle: &str) -> String {
        format!("x{handle}")
    }

    #[test]
    fn a_perfect_detection_scores_one() {
        let truth = truth(&[&["a", "b", "c"], &["d", "e"]]);
        let score = score(&truth, &[detected("1", &["d", "e"]), detected("2", &["a", "b", "c"])], pseudo);
        assert!((score.nmi - 1.0).abs() < 1e-12 && (score.mean_f1 - 1.0).abs() < 1e-12, "{score:?}");
        assert_eq!(score.planted[0].detected, "2");
    }

    #[test]
    fn a_merged_detection_is_penalised_by_hand_computed_figures() {
        let truth = truth(&[&["a", "b"], &["c", "d"]]);
        let score = score(&truth, &[detected("1", &["a", "b", "c", "d"])], pseudo);
        // One detected label for everyone: I = 0, so NMI = 0; F1 = 2·2/(4+2) = 2/3 each.
        assert!(score.nmi.abs() < 1e-12, "{score:?}");
        assert!((score.mean_f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((score.planted[0].precision - 0.5).abs() < 1e-12 && (score.planted[0].recall - 1.0).abs() < 1e-12);
    }

    #[test]
    fn undetected_members_are_singletons_and_lower_the_score() {
        let truth = truth(&[&["a", "b", "c", "d"]]);
        let score = score(&truth, &[detected("1", &["a", "b"])], pseudo);
        assert!((score.planted[0].recall - 0.5).abs() < 1e-12);
        // H(T) = 0, H(D) = -(½ln½ + 2·¼ln¼) = 1.5 ln 2, I = 0 → NMI = 0.
        assert!(score.nmi.abs() < 1e-12);
    }
}
