//! CMTrace log lines: the format of every ConfigMgr client and task-sequence
//! log (`smsts.log`, `Ccmexec.log`, CCMCertFix's own log), as administrators
//! read them in CMTrace:
//!
//! `<![LOG[message]LOG]!><time="10:31:07.123+000" date="06-14-2011" component="OSDSMPClient" context="" type="3" thread="1234" file="">`
//!
//! `type` 1 = information, 2 = warning, 3 = error. Times come from a
//! [`LogClock`] the caller provides (a scenario's seeded clock), never from the
//! wall clock inside the library, so logs are reproducible.

use std::fmt;

use chrono::{Duration, NaiveDateTime};

/// CMTrace's `type` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Information = 1,
    Warning = 2,
    Error = 3,
}

/// A clock that advances by a fixed step per line.
#[derive(Debug, Clone)]
pub struct LogClock {
    now: NaiveDateTime,
    step_ms: i64,
}

impl LogClock {
    pub fn new(start: NaiveDateTime, step_ms: i64) -> Self {
        LogClock {
            now: start,
            step_ms,
        }
    }

    /// A clock starting on a working day of 2011 derived from `seed` (from
    /// 1 March, after Windows 7 SP1's release, to mid-December: when these
    /// migrations ran), between 08:00 and 18:00, advancing 7..=133 ms per
    /// line. Modelling choice (no source): the logs look like their era and
    /// are reproducible.
    pub fn seeded(seed: u64) -> Self {
        use chrono::{Datelike, Weekday};
        let x = certmig_format::seed::key(seed, "log clock");
        let mut day = chrono::NaiveDate::from_ymd_opt(2011, 3, 1).expect("valid date")
            + Duration::days(((x >> 20) % 290) as i64);
        while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            day += Duration::days(1);
        }
        let start = day.and_hms_milli_opt(8, 0, 0, 0).expect("valid time")
            + Duration::milliseconds((x % (10 * 3_600_000)) as i64);
        LogClock::new(start, 7 + (x >> 40) as i64 % 127)
    }

    /// The time of the next line; advances the clock.
    pub fn tick(&mut self) -> NaiveDateTime {
        let t = self.now;
        self.now += Duration::milliseconds(self.step_ms);
        t
    }

    /// The time the next line would get, without advancing.
    pub fn now(&self) -> NaiveDateTime {
        self.now
    }

    /// Moves the clock forward (e.g. a long step such as Apply Operating System).
    pub fn advance(&mut self, ms: i64) {
        self.now += Duration::milliseconds(ms);
    }
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub message: String,
    pub time: NaiveDateTime,
    pub component: String,
    pub severity: Severity,
    pub thread: u32,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::{Datelike, Timelike};
        let t = self.time;
        // The same text as strftime "%H:%M:%S%.3f" and "%m-%d-%Y", without
        // parsing a format string per line.
        write!(
            f,
            "<![LOG[{}]LOG]!><time=\"{:02}:{:02}:{:02}.{:03}+000\" date=\"{:02}-{:02}-{:04}\" component=\"{}\" context=\"\" type=\"{}\" thread=\"{}\" file=\"\">",
            self.message,
            t.hour(),
            t.minute(),
            t.second(),
            t.nanosecond() / 1_000_000,
            t.month(),
            t.day(),
            t.year(),
            self.component,
            self.severity as u8,
            self.thread
        )
    }
}

/// A log file being written: lines in order, one clock.
#[derive(Debug, Clone)]
pub struct CmTraceLog {
    pub clock: LogClock,
    pub lines: Vec<LogLine>,
}

impl CmTraceLog {
    pub fn new(clock: LogClock) -> Self {
        CmTraceLog {
            clock,
            lines: Vec::new(),
        }
    }

    pub fn log(
        &mut self,
        component: &str,
        severity: Severity,
        thread: u32,
        message: impl Into<String>,
    ) {
        let time = self.clock.tick();
        self.lines.push(LogLine {
            message: message.into(),
            time,
            component: component.to_owned(),
            severity,
            thread,
        });
    }

    /// The whole file: one line per entry, CR LF after each.
    pub fn render(&self) -> String {
        render(&self.lines)
    }
}

/// A log file's text: one line per entry, CR LF after each.
pub fn render(lines: &[LogLine]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for l in lines {
        let _ = write!(out, "{l}\r\n");
    }
    out
}

/// The line OSDSMPClient writes to Ccmexec.log when a store import fails
/// (docs/BEHAVIOR.md claim C3), e.g. `Failed to import the client certificate store (0x80092024)`.
pub fn import_failure_message(hresult: impl fmt::Display) -> String {
    format!("Failed to import the client certificate store ({hresult})")
}

/// Parses one CMTrace line back into its fields.
pub fn parse_line(line: &str) -> Option<LogLine> {
    let rest = line.strip_prefix("<![LOG[")?;
    let (message, rest) = rest.split_once("]LOG]!><")?;
    let field = |name: &str| -> Option<&str> {
        let key = format!("{name}=\"");
        let start = rest.find(&key)? + key.len();
        let end = start + rest[start..].find('"')?;
        Some(&rest[start..end])
    };
    let time = field("time")?.strip_suffix("+000")?;
    let stamp = format!("{} {time}", field("date")?);
    Some(LogLine {
        message: message.to_owned(),
        time: NaiveDateTime::parse_from_str(&stamp, "%m-%d-%Y %H:%M:%S%.3f").ok()?,
        component: field("component")?.to_owned(),
        severity: match field("type")? {
            "1" => Severity::Information,
            "2" => Severity::Warning,
            "3" => Severity::Error,
            _ => return None,
        },
        thread: field("thread")?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_c3_line_has_the_exact_cmtrace_layout_and_parses_back() {
        let start = chrono::NaiveDate::from_ymd_opt(2011, 6, 14)
            .unwrap()
            .and_hms_milli_opt(10, 31, 7, 123)
            .unwrap();
        let mut log = CmTraceLog::new(LogClock::new(start, 10));
        log.log(
            "OSDSMPClient",
            Severity::Error,
            1234,
            import_failure_message("0x80092024"),
        );
        let expected = r#"<![LOG[Failed to import the client certificate store (0x80092024)]LOG]!><time="10:31:07.123+000" date="06-14-2011" component="OSDSMPClient" context="" type="3" thread="1234" file="">"#;
        assert_eq!(log.lines[0].to_string(), expected);
        assert_eq!(parse_line(expected).unwrap(), log.lines[0]);
        assert!(log.render().ends_with("file=\"\">\r\n"));
    }

    #[test]
    fn seeded_clocks_are_reproducible() {
        let mut a = LogClock::seeded(3);
        let mut b = LogClock::seeded(3);
        assert_eq!((a.tick(), a.tick()), (b.tick(), b.tick()));
        assert_ne!(LogClock::seeded(3).tick(), LogClock::seeded(4).tick());
    }

    #[test]
    fn seeded_clocks_start_on_a_working_day_of_2011() {
        use chrono::{Datelike, Timelike, Weekday};
        for seed in 0..500 {
            let t = LogClock::seeded(seed).now();
            assert_eq!(t.year(), 2011, "seed {seed}: {t}");
            assert!(t.month() >= 3, "seed {seed}: {t}");
            assert!(
                !matches!(t.weekday(), Weekday::Sat | Weekday::Sun),
                "seed {seed}: {t}"
            );
            assert!((8..18).contains(&t.hour()), "seed {seed}: {t}");
        }
    }
}
