//! Analyses over a validated topology that `plan`, `cost` and `render` share.

pub mod inventory;
pub mod links;
pub mod survivability;
pub mod types;
