//! GraphSense TagPacks and ActorPacks (see ../shared/specs/graphsense-reference.md).

/// Tables of tags, actors and their provenance.
pub const SCHEMA_V1: &str = "";
