//! Themes: the terms most distinctive of each community, by class-based TF-IDF (c-TF-IDF, Grootendorst
//! 2022, as in BERTopic).
//!
//! All posts of a community form one document (a *class*). For term t and class c:
//!
//! `W(t, c) = tf(t, c) · log(1 + A / f(t))`
//!
//! where `tf(t, c)` is the frequency of t in c L1-normalised by the class's total term count (as BERTopic's
//! `ClassTfidfTransformer`; the normalisation does not change the ranking within a class but makes scores
//! comparable across classes), `A` the average number of term occurrences per class and `f(t)` the
//! frequency of t across all classes. A term frequent everywhere gets a small `log(1 + A/f)`; a term
//! concentrated in one class keeps a large one.

use std::collections::{BTreeMap, HashMap};

use crate::types::CommunityId;

/// Top-`top_k` (term, score) per class, best first (ties by term). Classes without terms get an empty list.
pub fn class_tf_idf(
    term_counts_by_class: &BTreeMap<CommunityId, HashMap<String, u64>>,
    top_k: usize,
) -> BTreeMap<CommunityId, Vec<(String, f64)>> {
    let mut frequency_across_classes: HashMap<&str, u64> = HashMap::new();
    let mut total_occurrences = 0u64;
    for term_counts in term_counts_by_class.values() {
        for (term, count) in term_counts {
            *frequency_across_classes.entry(term.as_str()).or_default() += count;
            total_occurrences += count;
        }
    }
    let mut themes = BTreeMap::new();
    if term_counts_by_class.is_empty() {
        return themes;
    }
    let average_words_per_class = total_occurrences as f64 / term_counts_by_class.len() as f64;
    for (class, term_counts) in term_counts_by_class {
        let class_total: u64 = term_counts.values().sum();
        let mut scored: Vec<(String, f64)> = term_counts
            .iter()
            .filter(|(_, count)| **count > 0)
            .map(|(term, count)| {
                let term_frequency = *count as f64 / class_total.max(1) as f64;
                let across = frequency_across_classes.get(term.as_str()).copied().unwrap_or(1).max(1) as f64;
                (term.clone(), term_frequency * (1.0 + average_words_per_class / across).ln())
            })
            .collect();
        scored.sort_by(|left, right| right.1.total_cmp(&left.1).then(left.0.cmp(&right.0)));
        scored.truncate(top_k);
        themes.insert(*class, scored);
    }
    themes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
        pairs.iter().map(|(term, count)| (term.to_string(), *count)).collect()
    }

    #[test]
    fn c_tf_idf_matches_hand_computation() {
        // Class 1: greve×3, essence×1 (4 words); class 2: essence×1, meteo×3 (4 words).
        // A = 8/2 = 4; f(greve)=3, f(essence)=2, f(meteo)=3.
        // W(greve,1) = 3/4 · ln(1 + 4/3) = 0.75 · 0.847298 = 0.635473
        // W(essence,1) = 1/4 · ln(1 + 4/2) = 0.25 · 1.098612 = 0.274653
        let mut classes = BTreeMap::new();
        classes.insert(1, counts(&[("greve", 3), ("essence", 1)]));
        classes.insert(2, counts(&[("essence", 1), ("meteo", 3)]));
        let themes = class_tf_idf(&classes, 5);
        let class_one = &themes[&1];
        assert_eq!(class_one[0].0, "greve");
        assert!((class_one[0].1 - 0.75 * (1.0f64 + 4.0 / 3.0).ln()).abs() < 1e-12);
        assert_eq!(class_one[1].0, "essence");
        assert!((class_one[1].1 - 0.25 * 3.0f64.ln()).abs() < 1e-12);
        assert_eq!(themes[&2][0].0, "meteo");
        assert_eq!(class_tf_idf(&classes, 1)[&1].len(), 1);
    }

    #[test]
    fn a_term_everywhere_ranks_below_a_distinctive_one_of_equal_count() {
        let mut classes = BTreeMap::new();
        classes.insert(1, counts(&[("common", 5), ("rare", 5)]));
        classes.insert(2, counts(&[("common", 5), ("other", 5)]));
        classes.insert(3, counts(&[("common", 5), ("third", 5)]));
        let themes = class_tf_idf(&classes, 2);
        assert_eq!(themes[&1][0].0, "rare");
        assert!(themes[&1][0].1 > themes[&1][1].1);
    }
}
