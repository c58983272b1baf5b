//! Following value through the ledger: taint models, forward and backward traces.

pub mod taint;

pub use taint::{Model, Segment, Taint};
