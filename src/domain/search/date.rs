//! The instants a search restriction compares dates with, read from text.
//!
//! Two upstream parsers meet here. CQL reads dates with Joda-Time's
//! `ISODateTimeFormat.dateOptionalTimeParser()` (Crowd's `CqlEval.g`): `2010-12-01`,
//! `2010-12-01T10`, `2010-12-01T10:00:00.123+01:00`, a fraction on the last unit given. The
//! REST body's DATE values are written by Atlassian's client with
//! `yyyy-MM-dd'T'HH:mm:ss.SSSZ` (`SearchRestrictionEntityTranslator.TIME_FORMAT`):
//! `2024-01-02T03:04:05.000+0000`. [`parse`] reads both, as one grammar:
//!
//! `yyyy[-MM[-dd]] ['T' [HH[:mm[:ss]][(.|,)fraction]] [Z | ±HH[[:]mm]]]`
//!
//! A time without an offset is taken as UTC (Joda would take the server's zone; throng's
//! zone is UTC). Joda's week (`2010-W48-3`) and ordinal (`2010-335`) dates are not read.

/// Milliseconds since the Unix epoch (negative before 1970), or `None` if `text` is not one
/// of the forms above or names an impossible date or time.
pub fn parse(text: &str) -> Option<i64> {
    let mut s = Cursor { rest: text.as_bytes() };
    let year = s.digits(4, 4)? as i64;
    let (mut month, mut day) = (1, 1);
    if s.eat(b'-') {
        month = s.digits(2, 2)?;
        if s.eat(b'-') {
            day = s.digits(2, 2)?;
        }
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut millis = days_from_civil(year, month, day) * DAY;
    if s.eat(b'T') {
        millis += s.time()?;
        millis -= s.offset()?;
    }
    s.rest.is_empty().then_some(millis)
}

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

struct Cursor<'a> {
    rest: &'a [u8],
}

impl Cursor<'_> {
    fn eat(&mut self, b: u8) -> bool {
        let found = self.rest.first() == Some(&b);
        if found {
            self.rest = &self.rest[1..];
        }
        found
    }

    /// Between `min` and `max` ASCII digits, as a number.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let n = self.rest.iter().take(max).take_while(|b| b.is_ascii_digit()).count();
        if n < min {
            return None;
        }
        let value = self.rest[..n].iter().fold(0u32, |v, b| v * 10 + u32::from(b - b'0'));
        self.rest = &self.rest[n..];
        Some(value)
    }

    /// `HH[:mm[:ss]][fraction]`, all optional, as milliseconds into the day. The fraction
    /// belongs to the last unit given, as in ISO 8601 and Joda.
    fn time(&mut self) -> Option<i64> {
        let Some(hour) = self.digits(2, 2) else { return Some(0) };
        let mut millis = i64::from(hour) * HOUR;
        let mut unit = HOUR;
        if hour > 23 {
            return None;
        }
        if self.eat(b':') {
            let minute = self.digits(2, 2)?;
            millis += i64::from(minute) * MINUTE;
            unit = MINUTE;
            if minute > 59 {
                return None;
            }
            if self.eat(b':') {
                let second = self.digits(2, 2)?;
                millis += i64::from(second) * SECOND;
                unit = SECOND;
                if second > 59 {
                    return None;
                }
            }
        }
        if self.eat(b'.') || self.eat(b',') {
            // Only the first nine digits can matter to a millisecond of an hour.
            let n = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            let (mut num, mut den) = (0i64, 1i64);
            for b in &self.rest[..n.min(9)] {
                num = num * 10 + i64::from(b - b'0');
                den *= 10;
            }
            self.rest = &self.rest[n..];
            millis += num * unit / den;
        }
        Some(millis)
    }

    /// `Z`, `±HH`, `±HH:mm` or `±HHmm`, as milliseconds east of UTC; nothing is UTC.
    fn offset(&mut self) -> Option<i64> {
        if self.eat(b'Z') {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return Some(0);
        };
        let hours = self.digits(2, 2)?;
        let colon = self.eat(b':');
        let minutes = match self.digits(2, 2) {
            Some(m) => m,
            None if colon => return None,
            None => 0,
        };
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(sign * (i64::from(hours) * HOUR + i64::from(minutes) * MINUTE))
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_dates_and_times_in_utc() {
        assert_eq!(parse("1970-01-01"), Some(0));
        assert_eq!(parse("2010-12-01"), Some(1_291_161_600_000));
        assert_eq!(parse("2010-12"), parse("2010-12-01"));
        assert_eq!(parse("2010"), parse("2010-01-01"));
        assert_eq!(parse("2010-12-01T10:00:00"), Some(1_291_161_600_000 + 10 * 3_600_000));
        assert_eq!(parse("2010-12-01T10"), parse("2010-12-01T10:00:00"));
        assert_eq!(parse("2010-12-01T10:00:00Z"), parse("2010-12-01T10:00:00"));
        assert_eq!(parse("2010-12-01T"), parse("2010-12-01"));
        assert_eq!(parse("1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(parse("2000-02-29"), Some(951_782_400_000));
    }

    #[test]
    fn reads_fractions_and_offsets() {
        let base = parse("2024-01-02T03:04:05Z").unwrap();
        assert_eq!(parse("2024-01-02T03:04:05.123Z"), Some(base + 123));
        assert_eq!(parse("2024-01-02T03:04:05,5"), Some(base + 500));
        assert_eq!(parse("2024-01-02T03:04:05.1239"), Some(base + 123));
        assert_eq!(parse("2024-01-02T03:04:05.000+0000"), Some(base));
        assert_eq!(parse("2024-01-02T05:04:05.000+02:00"), Some(base));
        assert_eq!(parse("2024-01-02T05:04:05+02"), Some(base));
        assert_eq!(parse("2024-01-02T01:34:05-0130"), Some(base));
        assert_eq!(parse("2024-01-02T03.5"), parse("2024-01-02T03:30"));
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for bad in [
            "",
            "yesterday",
            "10",
            "2010-1-01",
            "2010-13-01",
            "2010-02-30",
            "2011-02-29",
            "2010-12-01 10:00",
            "2010-12-01T24:00",
            "2010-12-01T10:60",
            "2010-12-01T10:00:61",
            "2010-12-01T10:00:00.",
            "2010-12-01T10:00+1",
            "2010-12-01T10:00+01:",
            "2010-12-01T10:00+25:00",
            "2010-12-01T10:00:00Zjunk",
            "2010-12-01*",
            "1291161600000",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
