//! certmig's printers over the engines' results.
