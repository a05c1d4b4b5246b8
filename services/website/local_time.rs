//! Times as a patient in the Netherlands reads them: in Europe/Amsterdam,
//! summer time included, whatever zone the server runs in. The zone's
//! rules are compiled in (jiff's `static` feature), so a container image
//! without /usr/share/zoneinfo shows the same.
//!
//! The services speak instants (google.protobuf.Timestamp); people speak
//! dates. An approval "until 31-12-2026" means until the end of that day
//! in Amsterdam: the instant it stops is the start of the next day there.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use prost_types::Timestamp as ProtoTimestamp;

use super::i18n::Lang;

/// Where the patients are.
static AMSTERDAM: TimeZone = jiff::tz::get!("Europe/Amsterdam");

fn zoned(timestamp: &ProtoTimestamp) -> Zoned {
    Timestamp::new(timestamp.seconds, timestamp.nanos.clamp(0, 999_999_999))
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(AMSTERDAM.clone())
}

/// For `<time datetime>`: RFC 3339 with Amsterdam's offset.
pub fn iso(timestamp: &ProtoTimestamp) -> String {
    zoned(timestamp)
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// A moment for people: `30-11-2026 13:05` in Dutch, `30 Nov 2026, 13:05`
/// in English.
pub fn human(lang: Lang, timestamp: &ProtoTimestamp) -> String {
    let format = match lang {
        Lang::Nl => "%d-%m-%Y %H:%M",
        Lang::En => "%-d %b %Y, %H:%M",
    };
    zoned(timestamp).strftime(format).to_string()
}

fn human_date(lang: Lang, date: Date) -> String {
    let format = match lang {
        Lang::Nl => "%d-%m-%Y",
        Lang::En => "%-d %b %Y",
    };
    date.strftime(format).to_string()
}

/// When a grant stops, for people: its last day when it stops at the end
/// of a day in Amsterdam (as the website's `expire_date` makes it), else
/// the moment itself.
pub fn until(lang: Lang, expire_time: &ProtoTimestamp) -> String {
    let end = zoned(expire_time);
    if end.time() == jiff::civil::Time::midnight()
        && let Ok(last_day) = end.date().yesterday()
    {
        return human_date(lang, last_day);
    }
    human(lang, expire_time)
}

/// Why an `expire_date` field is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateProblem {
    /// Not a date as YYYY-MM-DD.
    NotADate,
    /// A day that is over in Amsterdam.
    Past,
}

/// The instant an approval `until` a date (YYYY-MM-DD, as a date input
/// sends it) stops: the start of the next day in Amsterdam. `None` for an
/// empty field: no end.
pub fn end_of_day(date: &str, now: Timestamp) -> Result<Option<ProtoTimestamp>, DateProblem> {
    let Some(date) = parse_date(date)? else {
        return Ok(None);
    };
    let today = now.to_zoned(AMSTERDAM.clone()).date();
    if date < today {
        return Err(DateProblem::Past);
    }
    Ok(Some(start_of(
        date.tomorrow().map_err(|_| DateProblem::NotADate)?,
    )?))
}

/// A period of whole days in Amsterdam, `from` and `to` inclusive: its
/// first instant, and the first instant after it. An empty field leaves
/// that side open.
pub fn days(
    from: &str,
    to: &str,
) -> Result<(Option<ProtoTimestamp>, Option<ProtoTimestamp>), DateProblem> {
    let start = parse_date(from)?.map(start_of).transpose()?;
    let end = match parse_date(to)? {
        Some(last) => Some(start_of(
            last.tomorrow().map_err(|_| DateProblem::NotADate)?,
        )?),
        None => None,
    };
    Ok((start, end))
}

/// A date field: YYYY-MM-DD, or empty.
fn parse_date(date: &str) -> Result<Option<Date>, DateProblem> {
    let date = date.trim();
    if date.is_empty() {
        return Ok(None);
    }
    date.parse().map(Some).map_err(|_| DateProblem::NotADate)
}

/// The first instant of `date` in Amsterdam.
fn start_of(date: Date) -> Result<ProtoTimestamp, DateProblem> {
    let start = date
        .to_zoned(AMSTERDAM.clone())
        .map_err(|_| DateProblem::NotADate)?
        .timestamp();
    Ok(ProtoTimestamp {
        seconds: start.as_second(),
        nanos: start.subsec_nanosecond(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> ProtoTimestamp {
        ProtoTimestamp { seconds, nanos: 0 }
    }

    #[test]
    fn times_are_amsterdam_s_in_winter_and_in_summer() {
        // 2026-11-30T12:05:00Z is 13:05 in Amsterdam (CET, +01:00).
        let winter = at(1_796_040_300);
        assert_eq!(iso(&winter), "2026-11-30T13:05:00+01:00");
        assert_eq!(human(Lang::Nl, &winter), "30-11-2026 13:05");
        assert_eq!(human(Lang::En, &winter), "30 Nov 2026, 13:05");
        // 2026-07-01T12:00:00Z is 14:00 (CEST, +02:00).
        let summer = at(1_782_907_200);
        assert_eq!(iso(&summer), "2026-07-01T14:00:00+02:00");
        assert_eq!(human(Lang::En, &summer), "1 Jul 2026, 14:00");
    }

    #[test]
    fn an_expire_date_ends_with_its_day_in_amsterdam() {
        let now: Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        // The end of 31 December 2026 in Amsterdam is 23:00 UTC.
        let end = end_of_day("2026-12-31", now).unwrap().unwrap();
        assert_eq!(
            end.seconds,
            "2026-12-31T23:00:00Z"
                .parse::<Timestamp>()
                .unwrap()
                .as_second()
        );
        assert_eq!(until(Lang::Nl, &end), "31-12-2026");
        assert_eq!(until(Lang::En, &end), "31 Dec 2026");
        // Across the switch to summer time: the end of 28 March 2027 is
        // midnight CEST, 22:00 UTC.
        let end = end_of_day("2027-03-28", now).unwrap().unwrap();
        assert_eq!(
            end.seconds,
            "2027-03-28T22:00:00Z"
                .parse::<Timestamp>()
                .unwrap()
                .as_second()
        );
        // Today is allowed (it ends tonight); yesterday is over.
        assert!(end_of_day("2026-12-07", now).unwrap().is_some());
        assert_eq!(end_of_day("2026-12-06", now), Err(DateProblem::Past));
        assert_eq!(end_of_day("31-12-2026", now), Err(DateProblem::NotADate));
        assert_eq!(end_of_day("2026-02-30", now), Err(DateProblem::NotADate));
        assert_eq!(end_of_day("  ", now), Ok(None));
    }

    #[test]
    fn a_period_of_days_runs_from_the_first_midnight_to_the_one_after_the_last() {
        let (start, end) = days("2026-12-01", "2026-12-07").unwrap();
        let at = |text: &str| text.parse::<Timestamp>().unwrap().as_second();
        assert_eq!(start.unwrap().seconds, at("2026-11-30T23:00:00Z"));
        assert_eq!(end.unwrap().seconds, at("2026-12-07T23:00:00Z"));
        assert_eq!(days("", "").unwrap(), (None, None));
        assert_eq!(days("gisteren", ""), Err(DateProblem::NotADate));
    }

    #[test]
    fn an_end_that_is_not_midnight_is_shown_as_a_moment() {
        let end = at(1_796_040_300);
        assert_eq!(until(Lang::Nl, &end), "30-11-2026 13:05");
    }
}
