//! Rows in PostgreSQL's binary `COPY` format, for `COPY … FROM STDIN (FORMAT binary)`.
//!
//! The aggregator writes each batch's posts, interaction edges and waiting replies with `COPY`:
//! Postgres then stores the rows without parsing SQL array parameters, unnesting them or running
//! a speculative insertion for `ON CONFLICT` (see `Store::store_batch` for the fallback when a row
//! already exists). The format is the one documented in the PostgreSQL manual (`COPY`, "Binary
//! Format"): a signature and header, then per row a field count and, per field, a big-endian
//! `int32` length (−1 for NULL) followed by the value in the type's binary send format; a field
//! count of −1 ends the data.

/// PostgreSQL's epoch (2000-01-01T00:00:00Z) in milliseconds since the Unix epoch.
const POSTGRES_EPOCH_MS: i64 = 946_684_800_000;
/// The range of times written: from Postgres's lower bound (4714-11-24 BC) to the end of year
/// 9999, which Postgres stores and chrono reads back. Hostile timestamps are clamped into it
/// rather than failing their batch.
const MIN_MS: i64 = -210_866_803_200_000;
const MAX_MS: i64 = 253_402_300_799_999;
/// `text`'s type oid, for the elements of a `text[]`.
const TEXT_OID: i32 = 25;

/// A batch of rows being encoded.
#[derive(Debug)]
pub struct BinaryRows {
    bytes: Vec<u8>,
    rows: usize,
}

impl Default for BinaryRows {
    fn default() -> Self {
        BinaryRows::new()
    }
}

impl BinaryRows {
    /// An empty batch: the signature, no flags, no header extension.
    pub fn new() -> BinaryRows {
        let mut bytes = Vec::with_capacity(64 * 1024);
        bytes.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        bytes.extend_from_slice(&0i32.to_be_bytes());
        bytes.extend_from_slice(&0i32.to_be_bytes());
        BinaryRows { bytes, rows: 0 }
    }

    /// Rows started so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Starts a row of `fields` fields; exactly that many field calls must follow.
    pub fn row(&mut self, fields: i16) {
        self.bytes.extend_from_slice(&fields.to_be_bytes());
        self.rows += 1;
    }

    fn length(&mut self, length: usize) {
        // A field longer than 2 GiB cannot reach the aggregator (Kafka messages are far smaller);
        // a saturated length would make Postgres reject the row rather than store a wrong one.
        let length = i32::try_from(length).unwrap_or(i32::MAX);
        self.bytes.extend_from_slice(&length.to_be_bytes());
    }

    pub fn null(&mut self) {
        self.bytes.extend_from_slice(&(-1i32).to_be_bytes());
    }

    /// `text` (the caller has removed NUL characters, which Postgres text cannot hold).
    pub fn text(&mut self, value: &str) {
        self.length(value.len());
        self.bytes.extend_from_slice(value.as_bytes());
    }

    /// `text`, NULL when empty.
    pub fn text_or_null(&mut self, value: &str) {
        if value.is_empty() {
            self.null();
        } else {
            self.text(value);
        }
    }

    pub fn int2(&mut self, value: i16) {
        self.length(2);
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    pub fn int8(&mut self, value: i64) {
        self.length(8);
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    pub fn int8_or_null(&mut self, value: Option<i64>) {
        match value {
            Some(value) => self.int8(value),
            None => self.null(),
        }
    }

    pub fn float8_or_null(&mut self, value: Option<f64>) {
        match value {
            Some(value) => {
                self.length(8);
                self.bytes.extend_from_slice(&value.to_bits().to_be_bytes());
            }
            None => self.null(),
        }
    }

    pub fn bool(&mut self, value: bool) {
        self.length(1);
        self.bytes.push(u8::from(value));
    }

    /// `timestamptz` from milliseconds since the Unix epoch: microseconds since 2000-01-01 UTC
    /// (clamped to `MIN_MS..=MAX_MS`).
    pub fn timestamp(&mut self, ms: i64) {
        self.int8((ms.clamp(MIN_MS, MAX_MS) - POSTGRES_EPOCH_MS) * 1000);
    }

    /// A one-dimensional `text[]` of the values `keep` accepts (`{}` when none).
    pub fn text_array(&mut self, values: &[String], keep: impl Fn(&str) -> bool) {
        let count = values.iter().filter(|value| keep(value)).count();
        let start = self.bytes.len();
        self.length(0); // patched below
        let dimensions: i32 = if count == 0 { 0 } else { 1 };
        self.bytes.extend_from_slice(&dimensions.to_be_bytes());
        self.bytes.extend_from_slice(&0i32.to_be_bytes()); // no NULL elements
        self.bytes.extend_from_slice(&TEXT_OID.to_be_bytes());
        if count > 0 {
            self.length(count);
            self.bytes.extend_from_slice(&1i32.to_be_bytes()); // lower bound
            for value in values.iter().filter(|value| keep(value)) {
                self.text(value);
            }
        }
        let length = i32::try_from(self.bytes.len() - start - 4).unwrap_or(i32::MAX);
        self.bytes[start..start + 4].copy_from_slice(&length.to_be_bytes());
    }

    /// The encoded data, trailer included.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&(-1i16).to_be_bytes());
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: usize = 11 + 4 + 4;

    #[test]
    fn an_empty_batch_is_the_header_and_the_trailer() {
        let bytes = BinaryRows::new().finish();
        assert_eq!(&bytes[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(&bytes[11..HEADER], &[0u8; 8]);
        assert_eq!(&bytes[HEADER..], &[0xff, 0xff]);
    }

    #[test]
    fn fields_are_length_prefixed_big_endian_values() {
        let mut rows = BinaryRows::new();
        rows.row(6);
        rows.text("hé");
        rows.text_or_null("");
        rows.int2(-2);
        rows.int8_or_null(Some(258));
        rows.bool(true);
        rows.float8_or_null(Some(1.5));
        assert_eq!(rows.len(), 1);
        let bytes = rows.finish();
        let expected: Vec<u8> = [
            &[0, 6][..],
            &[0, 0, 0, 3, b'h', 0xc3, 0xa9],
            &[0xff, 0xff, 0xff, 0xff],
            &[0, 0, 0, 2, 0xff, 0xfe],
            &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 1, 2],
            &[0, 0, 0, 1, 1],
            &[0, 0, 0, 8, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
            &[0xff, 0xff],
        ]
        .concat();
        assert_eq!(&bytes[HEADER..], &expected[..]);
    }

    #[test]
    fn timestamps_count_microseconds_from_2000() {
        let mut rows = BinaryRows::new();
        rows.timestamp(POSTGRES_EPOCH_MS + 1);
        rows.timestamp(0);
        rows.timestamp(i64::MIN);
        rows.timestamp(i64::MAX);
        let bytes = rows.finish();
        assert_eq!(&bytes[HEADER..HEADER + 12], &[&[0, 0, 0, 8][..], &1000i64.to_be_bytes()].concat()[..]);
        let value = |field: usize| {
            let at = HEADER + field * 12 + 4;
            i64::from_be_bytes(bytes[at..at + 8].try_into().unwrap())
        };
        assert_eq!(value(1), -946_684_800_000_000);
        // Postgres's own bounds, in microseconds from 2000: 4714-11-24 BC and 10000-01-01 minus 1 ms.
        assert_eq!(value(2), -211_813_488_000_000_000);
        assert_eq!(value(3), 252_455_615_999_999_000);
    }

    #[test]
    fn a_text_array_keeps_only_the_accepted_values_and_is_empty_without_any() {
        let mut rows = BinaryRows::new();
        let values = vec!["ab".to_string(), String::new(), "c".to_string()];
        rows.text_array(&values, |value| !value.is_empty());
        rows.text_array(&values, |_| false);
        let bytes = rows.finish();
        let one: Vec<u8> = [
            &31i32.to_be_bytes()[..],
            &1i32.to_be_bytes(),
            &0i32.to_be_bytes(),
            &25i32.to_be_bytes(),
            &2i32.to_be_bytes(),
            &1i32.to_be_bytes(),
            &[0, 0, 0, 2, b'a', b'b'],
            &[0, 0, 0, 1, b'c'],
        ]
        .concat();
        let empty: Vec<u8> =
            [&12i32.to_be_bytes()[..], &0i32.to_be_bytes(), &0i32.to_be_bytes(), &25i32.to_be_bytes()].concat();
        assert_eq!(&bytes[HEADER..HEADER + one.len()], &one[..]);
        assert_eq!(&bytes[HEADER + one.len()..bytes.len() - 2], &empty[..]);
    }
}
