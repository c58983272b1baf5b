//! Following value through the ledger: taint models, forward and backward traces.

pub mod backward;
pub mod forward;
pub mod graph;
pub mod taint;

pub use backward::{backward, BackwardOptions, BackwardTrace, Origin, Source};
pub use forward::{forward, Endpoint, ForwardOptions, ForwardTrace, Seed, Stop};
pub use graph::{FlowGraph, LedgerGraph, MemGraph};
pub use taint::{Model, Segment, Taint};
