//! Calendar dates (UTC), as `YYYY-MM-DD`: sanctions list versions and screening dates, the
//! lastmod of simulated tag packs.
//!
//! Lists are published per day and screening asks "was it listed on that day", so a day number
//! is all the precision there is; no time zone enters except UTC for block times.

use std::fmt;

/// A day of the proleptic Gregorian calendar, stored as days since 1970-01-01.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Date(i32);

impl Date {
    /// Parses exactly `YYYY-MM-DD` with a real month and day (leap years included).
    pub fn parse(s: &str) -> Result<Date, String> {
        let b = s.as_bytes();
        let shape_ok = b.len() == 10
            && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() });
        if !shape_ok {
            return Err(format!("{s:?} is not a date of the form YYYY-MM-DD"));
        }
        // All ASCII digits by now, so the slices are char boundaries and the numbers parse.
        let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
        let (y, m, d) = (num(0..4), num(5..7), num(8..10));
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y as i32, m) {
            return Err(format!("{s:?} is not a calendar date"));
        }
        Ok(Date(days_from_civil(y as i32, m, d)))
    }

    /// The UTC day of a Unix time (block header times are Unix seconds).
    pub fn from_unix(seconds: i64) -> Date {
        Date(seconds.div_euclid(86_400) as i32)
    }

    /// The `YYYY-MM-DD` date written in `name` (a directory name); an error if it holds two.
    pub fn find_in(name: &str) -> Result<Option<Date>, String> {
        let mut found = Vec::new();
        for i in 0..name.len().saturating_sub(9) {
            if let Some(Ok(d)) = name.get(i..i + 10).map(Date::parse) {
                found.push(d);
            }
        }
        found.dedup();
        match found.len() {
            0 => Ok(None),
            1 => Ok(Some(found[0])),
            _ => Err(format!("{name:?} holds several dates")),
        }
    }

    fn civil(self) -> (i32, u32, u32) {
        // Howard Hinnant's civil_from_days.
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i32::from(m <= 2);
        (y, m, d)
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's days_from_civil.
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i32;
    let doy = (153 * mp + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// As its `YYYY-MM-DD` string, in JSON output.
impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.civil();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_display_round_trip_and_rejects() {
        for s in ["1970-01-01", "2000-02-29", "2024-05-03", "2024-12-31", "1999-03-01"] {
            assert_eq!(Date::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(Date::parse("1970-01-02").unwrap(), Date(1));
        for bad in ["2023-02-29", "2024-13-01", "2024-00-10", "2024-5-03", "20240503", "2024-05-03x", "abcd-ef-gh", "2024/05/03"] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unix_times_and_names() {
        // Block 170's time, 2009-01-12 03:30:25 UTC.
        assert_eq!(Date::from_unix(1_231_731_025).to_string(), "2009-01-12");
        assert_eq!(Date::from_unix(-1).to_string(), "1969-12-31");
        assert_eq!(Date::find_in("2024-05-03").unwrap().unwrap().to_string(), "2024-05-03");
        assert_eq!(Date::find_in("sdn-2021-07-07-bench").unwrap().unwrap().to_string(), "2021-07-07");
        assert_eq!(Date::find_in("2021-07-watchman-bench").unwrap(), None);
        assert_eq!(Date::find_in("2024-99-03").unwrap(), None);
        assert!(Date::find_in("2024-01-01..2024-02-01").is_err());
    }
}
