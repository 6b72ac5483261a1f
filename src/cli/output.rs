//! How `imagedex images` writes items: an aligned table for people, JSON, NDJSON or CSV for
//! programs. Every format is written page by page, so a walk over every page never holds more
//! than one page.

use crate::client::response::{ContainerImage, ContainerImageGroup};
use clap::ValueEnum;
use serde::Serialize;
use std::io::{self, Write};

/// The width a table must fit in, whatever the terminal: it stays readable in a default
/// terminal and in a pasted log.
pub const TABLE_WIDTH: usize = 80;

const GAP: &str = "  ";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns, at most 80 characters wide; long values shortened with '…'
    Table,
    /// One JSON array of the items as the server sent them
    Json,
    /// One item as JSON per line
    Ndjson,
    /// A header row, then one row per item (several values in one field separated by commas)
    Csv,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table column: its header, how its values align, and the most characters it takes. The
/// one column with `max: None` takes what the others leave of the width.
pub struct Column {
    pub header: &'static str,
    pub align: Align,
    pub max: Option<usize>,
}

/// What an item must say to be written in every format.
pub trait Row: Serialize {
    const COLUMNS: &'static [Column];
    const CSV_HEADER: &'static [&'static str];
    fn cells(&self) -> Vec<String>;
    fn csv_record(&self) -> Vec<String>;
}

/// Writes pages of items in one format.
pub struct Writer<W: Write> {
    out: W,
    format: Format,
    written: u64,
    /// The table's column widths, fixed by the first page so later pages line up with it.
    widths: Option<Vec<usize>>,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W, format: Format) -> Self {
        Writer {
            out,
            format,
            written: 0,
            widths: None,
        }
    }

    /// Writes the items of one page and flushes them, so a long walk shows as it goes.
    /// `more` says whether other pages may follow: a table then sizes its columns for any
    /// value rather than for this page's.
    pub fn write_page<T: Row>(&mut self, items: &[T], more: bool) -> io::Result<()> {
        match self.format {
            Format::Table => self.table_page(items, more)?,
            Format::Json => {
                for item in items {
                    let separator = if self.written == 0 { "[\n" } else { ",\n" };
                    self.out.write_all(separator.as_bytes())?;
                    serde_json::to_writer(&mut self.out, item)?;
                    self.written += 1;
                }
            }
            Format::Ndjson => {
                for item in items {
                    serde_json::to_writer(&mut self.out, item)?;
                    self.out.write_all(b"\n")?;
                    self.written += 1;
                }
            }
            Format::Csv => {
                if self.written == 0 && !items.is_empty() {
                    let header: Vec<String> = T::CSV_HEADER.iter().map(|h| h.to_string()).collect();
                    write_csv_record(&mut self.out, &header)?;
                }
                for item in items {
                    write_csv_record(&mut self.out, &item.csv_record())?;
                    self.written += 1;
                }
            }
        }
        self.out.flush()
    }

    /// Closes what the format opened; an empty result still gets a header or `[]`.
    pub fn finish<T: Row>(mut self) -> io::Result<()> {
        match self.format {
            Format::Json if self.written == 0 => self.out.write_all(b"[]\n")?,
            Format::Json => self.out.write_all(b"\n]\n")?,
            Format::Csv if self.written == 0 => {
                let header: Vec<String> = T::CSV_HEADER.iter().map(|h| h.to_string()).collect();
                write_csv_record(&mut self.out, &header)?;
            }
            Format::Table if self.widths.is_none() => self.table_page::<T>(&[], false)?,
            _ => {}
        }
        self.out.flush()
    }

    fn table_page<T: Row>(&mut self, items: &[T], more: bool) -> io::Result<()> {
        let rows: Vec<Vec<String>> = items.iter().map(Row::cells).collect();
        if self.widths.is_none() {
            let widths = column_widths(T::COLUMNS, &rows, more);
            let header: Vec<String> = T::COLUMNS.iter().map(|c| c.header.to_string()).collect();
            write_table_line(&mut self.out, T::COLUMNS, &widths, &header)?;
            self.widths = Some(widths);
        }
        let Some(widths) = &self.widths else {
            return Ok(());
        };
        for row in &rows {
            write_table_line(&mut self.out, T::COLUMNS, widths, row)?;
            self.written += 1;
        }
        Ok(())
    }
}

/// Each column as wide as its widest value (or header) up to its maximum, or at its maximum
/// when pages still to come may hold wider values; the flexible column gets the rest of
/// [`TABLE_WIDTH`].
fn column_widths(columns: &[Column], rows: &[Vec<String>], more: bool) -> Vec<usize> {
    let natural: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            if let (true, Some(max)) = (more, column.max) {
                return max;
            }
            let widest = rows
                .iter()
                .filter_map(|row| row.get(i))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0);
            let width = widest.max(column.header.len());
            column.max.map_or(width, |max| width.min(max))
        })
        .collect();
    let fixed: usize = columns
        .iter()
        .zip(&natural)
        .filter(|(column, _)| column.max.is_some())
        .map(|(_, width)| width)
        .sum();
    let room = TABLE_WIDTH.saturating_sub(fixed + GAP.len() * columns.len().saturating_sub(1));
    columns
        .iter()
        .zip(natural)
        .map(|(column, width)| match column.max {
            Some(_) => width,
            None if more => room.max(column.header.len()),
            None => width.min(room).max(column.header.len()),
        })
        .collect()
}

fn write_table_line(
    out: &mut impl Write,
    columns: &[Column],
    widths: &[usize],
    cells: &[String],
) -> io::Result<()> {
    let mut line = String::with_capacity(TABLE_WIDTH);
    let last = columns.len().saturating_sub(1);
    for (i, (column, width)) in columns.iter().zip(widths).enumerate() {
        let cell = cells.get(i).map(String::as_str).unwrap_or("");
        let cell = if column.max.is_none() {
            shorten_middle(cell, *width)
        } else {
            shorten_end(cell, *width)
        };
        let pad = width.saturating_sub(cell.chars().count());
        match column.align {
            Align::Left if i == last => line.push_str(&cell),
            Align::Left => {
                line.push_str(&cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
            Align::Right => {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(&cell);
            }
        }
        if i != last {
            line.push_str(GAP);
        }
    }
    writeln!(out, "{}", line.trim_end())
}

/// `text` in at most `width` characters, cut at the end with '…'.
pub fn shorten_end(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut short: String = text.chars().take(width.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// `text` in at most `width` characters, cut in the middle with '…': an image name keeps its
/// registry and the end of its repository, the parts that tell images apart.
pub fn shorten_middle(text: &str, width: usize) -> String {
    let length = text.chars().count();
    if length <= width {
        return text.to_string();
    }
    let keep = width.saturating_sub(1);
    let head = keep / 2;
    let tail = keep - head;
    let mut short: String = text.chars().take(head).collect();
    short.push('…');
    short.extend(text.chars().skip(length - tail));
    short
}

/// One CSV record (RFC 4180): a field with a comma, a quote or a line break is quoted, with its
/// quotes doubled.
pub fn write_csv_record(out: &mut impl Write, fields: &[String]) -> io::Result<()> {
    let mut line = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&field.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(field);
        }
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes())
}

/// Bytes in decimal units, as registries and `docker images` show them.
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for next in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = next;
    }
    if value < 99.95 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

impl Row for ContainerImage {
    const COLUMNS: &'static [Column] = &[
        Column {
            header: "NAME",
            align: Align::Left,
            max: None,
        },
        Column {
            header: "TAG",
            align: Align::Left,
            max: Some(12),
        },
        Column {
            header: "CRIT",
            align: Align::Right,
            max: Some(4),
        },
        Column {
            header: "HIGH",
            align: Align::Right,
            max: Some(4),
        },
        Column {
            header: "ARCH",
            align: Align::Left,
            max: Some(8),
        },
        Column {
            header: "SIZE",
            align: Align::Right,
            max: Some(7),
        },
        Column {
            header: "BUILT",
            align: Align::Left,
            max: Some(10),
        },
    ];

    const CSV_HEADER: &'static [&'static str] = &[
        "id",
        "name",
        "registry",
        "repository",
        "short_image",
        "image_tags",
        "repo_digest",
        "critical",
        "high",
        "medium",
        "low",
        "none",
        "unknown",
        "os_names",
        "os_architectures",
        "sizes",
        "images_built_at",
        "published_at",
        "sources",
        "tags",
    ];

    fn cells(&self) -> Vec<String> {
        let a = &self.attributes;
        let count = |pick: fn(&crate::client::response::VulnerabilityCount) -> i64| {
            a.vulnerability_count
                .as_ref()
                .map_or_else(|| "-".to_string(), |v| pick(v).to_string())
        };
        let tag = match a.image_tags.as_slice() {
            [] => "-".to_string(),
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} +{}", rest.len()),
        };
        let arch = match a.os_architectures.as_slice() {
            [] => "-".to_string(),
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} +{}", rest.len()),
        };
        let size = a
            .sizes
            .iter()
            .max()
            .map_or_else(|| "-".to_string(), |s| human_size(*s));
        let built = a
            .images_built_at
            .iter()
            .max()
            .and_then(|t| t.get(..10))
            .unwrap_or("-")
            .to_string();
        vec![
            a.name.clone(),
            tag,
            count(|v| v.critical),
            count(|v| v.high),
            arch,
            size,
            built,
        ]
    }

    fn csv_record(&self) -> Vec<String> {
        let a = &self.attributes;
        // Commas, as in the filter language, which keeps them out of tags; the field is quoted.
        let joined = |values: &[String]| values.join(",");
        let count = |pick: fn(&crate::client::response::VulnerabilityCount) -> i64| {
            a.vulnerability_count
                .as_ref()
                .map_or_else(String::new, |v| pick(v).to_string())
        };
        let sizes: Vec<String> = a.sizes.iter().map(ToString::to_string).collect();
        vec![
            self.id.clone(),
            a.name.clone(),
            a.registry.clone().unwrap_or_default(),
            a.repository.clone(),
            a.short_image.clone(),
            joined(&a.image_tags),
            a.repo_digest.clone().unwrap_or_default(),
            count(|v| v.critical),
            count(|v| v.high),
            count(|v| v.medium),
            count(|v| v.low),
            count(|v| v.none),
            count(|v| v.unknown),
            joined(&a.os_names),
            joined(&a.os_architectures),
            joined(&sizes),
            joined(&a.images_built_at),
            a.published_at.clone().unwrap_or_default(),
            joined(&a.sources),
            joined(&a.tags),
        ]
    }
}

impl Row for ContainerImageGroup {
    const COLUMNS: &'static [Column] = &[
        Column {
            header: "GROUP",
            align: Align::Left,
            max: None,
        },
        Column {
            header: "IMAGES",
            align: Align::Right,
            max: Some(10),
        },
    ];

    const CSV_HEADER: &'static [&'static str] = &["name", "count"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.attributes.name.clone(),
            self.attributes.count.to_string(),
        ]
    }

    fn csv_record(&self) -> Vec<String> {
        self.cells()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        let mut out = Vec::new();
        let fields = ["plain", "a,b", "say \"hi\"", "two\nlines", ""].map(String::from);
        write_csv_record(&mut out, &fields).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n"
        );
    }

    #[test]
    fn long_values_are_shortened_with_an_ellipsis() {
        assert_eq!(shorten_end("abcdef", 6), "abcdef");
        assert_eq!(shorten_end("abcdefg", 6), "abcde…");
        assert_eq!(
            shorten_middle("registry.example.com/team/api", 12),
            "regis…am/api"
        );
        assert_eq!(shorten_middle("short", 12), "short");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1_500), "1.5 kB");
        assert_eq!(human_size(41_802_389), "41.8 MB");
        assert_eq!(human_size(123_456_789), "123 MB");
        assert_eq!(human_size(2_000_000_000), "2.0 GB");
    }

    #[test]
    fn the_flexible_column_takes_what_the_others_leave() {
        let columns = [
            Column {
                header: "NAME",
                align: Align::Left,
                max: None,
            },
            Column {
                header: "N",
                align: Align::Right,
                max: Some(4),
            },
        ];
        let rows = vec![vec!["x".repeat(200), "12345".to_string()]];
        assert_eq!(
            column_widths(&columns, &[], true),
            [TABLE_WIDTH - 4 - GAP.len(), 4]
        );
        let widths = column_widths(&columns, &rows, false);
        assert_eq!(widths, [TABLE_WIDTH - 4 - GAP.len(), 4]);
        let mut out = Vec::new();
        write_table_line(&mut out, &columns, &widths, &rows[0]).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert_eq!(line.trim_end().chars().count(), TABLE_WIDTH);
        assert!(line.trim_end().ends_with("123…"), "{line}");
    }
}
