pub mod cli;
pub mod format;
pub mod scan;
