//! certmig's printers over the engines' results: human tables, CSV, HTML
//! and JUnit XML. The engines return plain, serde-serializable results
//! (`--json` prints them as they are); every other rendering lives here, so
//! the engines depend on no printing crate and the command line only parses
//! flags and writes what these functions return.
//!
//! - [`fix`] and [`gen`]: the summaries of `certmig fix` and `certmig gen`;
//! - [`matrix`]: the outcome matrix (`certmig matrix`): table and HTML;
//! - [`replay`]: replayed scenarios (`certmig replay`): table and JSON rows;
//! - [`fleet`]: a synthetic fleet's report: tables, CSV and HTML;
//! - [`inventory`]: a real inventory's readiness: tables and CSV;
//! - [`validate`]: a fix tool's validation: the cases × invariants table and
//!   JUnit XML;
//! - [`selftest`]: the validator's self-test table;
//! - [`scan`]: the per-file, per-certificate listing of `certmig scan`;
//! - [`crosscheck`]: certmig's reading against crypt32's, per certificate;
//! - [`text`]: number formatting shared by the printers.
//!
//! Two rules hold throughout. CSV goes through the `csv` crate with one
//! `#[derive(Serialize)]` row struct per file (its field names are the
//! header), written by [`csv_writer`]; HTML goes through `maud`, whose
//! templates escape every interpolated value (there is no other escape
//! function in the workspace).

pub mod crosscheck;
pub mod fix;
pub mod fleet;
pub mod gen;
pub mod inventory;
pub mod matrix;
pub mod replay;
pub mod scan;
pub mod selftest;
pub mod text;
pub mod validate;

use serde::Serialize;

/// The CSV dialect of every CSV certmig writes: RFC 4180, comma separated,
/// CRLF after every record (the header too), a field quoted only when it
/// holds a comma, a quote, CR or LF, quotes doubled.
pub fn csv_writer<W: std::io::Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .has_headers(true)
        .delimiter(b',')
        .quote(b'"')
        .double_quote(true)
        .quote_style(csv::QuoteStyle::Necessary)
        .terminator(csv::Terminator::CRLF)
        .from_writer(w)
}

/// Writes `rows` as CSV (header from the row type's field names) into a
/// string. `header` is written when there are no rows, since serde can only
/// name the fields of a value it serializes.
pub(crate) fn csv_string<R: Serialize>(
    header: &[&str],
    rows: impl IntoIterator<Item = R>,
) -> String {
    let mut w = csv_writer(Vec::new());
    let mut any = false;
    for r in rows {
        any = true;
        w.serialize(r)
            .expect("a row of strings and numbers always serializes to CSV");
    }
    if !any {
        w.write_record(header)
            .expect("writing CSV into memory cannot fail");
    }
    let bytes = w.into_inner().expect("writing CSV into memory cannot fail");
    String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
}
