//! `amt-manager`: power-manage Intel AMT workstations. (Being written for issue 8.)

pub mod model;
pub mod store;
pub mod vault;
