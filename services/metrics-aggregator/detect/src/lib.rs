//! murmur's detection core: the interaction graph, Leiden communities and their lifecycle,
//! the marketing KPIs, weak signals and alert decisions.
//!
//! Everything here is pure and deterministic: no I/O, time passed in as values, randomness
//! from explicit seeds. The metrics-aggregator service feeds it posts and persists its results.

pub mod alerts;
pub mod graph;
pub mod kpi;
pub mod leiden;
pub mod signals;
pub mod terms;
pub mod tracking;
pub mod types;
