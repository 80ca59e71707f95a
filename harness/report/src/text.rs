//! Number formatting and the table style shared by the tables and the HTML
//! pages.

/// A table for people: UTF-8 borders, and its content arranged to fit the
/// terminal's width when standard output is one (comfy-table measures it;
/// long cells wrap), the full width when it is piped or redirected (files
/// and scripts get whole lines).
pub fn terminal_table() -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    t
}

/// The terminal's width when standard output is one (as comfy-table
/// measures it), else `None`: output for files and scripts is not wrapped.
pub fn terminal_width() -> Option<usize> {
    comfy_table::Table::new().width().map(usize::from)
}

/// A whole report fitted to the terminal: each line wider than the
/// terminal that is not part of a table (tables fit already,
/// [`terminal_table`]) is wrapped, its continuation indented two spaces
/// past its own indent. As it is when standard output is no terminal.
pub fn fit(report: &str) -> String {
    let Some(w) = terminal_width().filter(|w| *w > 20) else {
        return report.to_owned();
    };
    let mut out = String::with_capacity(report.len());
    for (i, line) in report.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let table = line.starts_with(['│', '┌', '├', '└', '╞', '|', '+']);
        if table || line.chars().count() <= w {
            out.push_str(line);
            continue;
        }
        let indent: String = line.chars().take_while(|c| *c == ' ').collect();
        let more = format!("{indent}  ");
        let opts = textwrap::Options::new(w)
            .initial_indent(&indent)
            .subsequent_indent(&more);
        out.push_str(&textwrap::wrap(line.trim_start(), opts).join("\n"));
    }
    out
}

/// `text` (one paragraph) wrapped to the terminal's width, continuation
/// lines indented by two spaces; as it is when standard output is no
/// terminal. Ends with a newline.
pub fn paragraph(text: &str) -> String {
    match terminal_width() {
        Some(w) if w > 20 => {
            let opts = textwrap::Options::new(w).subsequent_indent("  ");
            let mut out = textwrap::wrap(text, opts).join("\n");
            out.push('\n');
            out
        }
        _ => format!("{text}\n"),
    }
}

/// `12.3%`; `-` of nothing.
pub fn percent(n: u64, of: u64) -> String {
    if of == 0 {
        return "-".into();
    }
    format!("{:.1}%", 100.0 * n as f64 / of as f64)
}

/// `1 000 000`.
pub fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_and_shares() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1 000");
        assert_eq!(group_digits(1_234_567), "1 234 567");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(1, 0), "-");
    }
}
