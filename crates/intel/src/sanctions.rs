//! OFAC sanctions lists with their history of listings and delistings.

/// Tables of list snapshots, entries and listed addresses.
pub const SCHEMA_V1: &str = "";
