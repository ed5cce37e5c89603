//! The input line of every row waiting or taken, kept as runs: rows on consecutive lines (all of
//! them, in most files) share one entry, so a row costs no store and no copy for its line.

/// The line of each of `len` rows: runs of rows on consecutive lines, each as its first row and
/// that row's line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineNumbers {
    /// (first row, its line), rows ascending; the first run starts at row 0 when there are rows.
    runs: Vec<(usize, u64)>,
    len: usize,
    /// The line a next row continuing the last run would be on.
    next: u64,
}

impl LineNumbers {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The line of row `row` (< `len`).
    pub fn get(&self, row: usize) -> u64 {
        debug_assert!(row < self.len);
        let run = self.runs.partition_point(|&(first, _)| first <= row) - 1;
        let (first, line) = self.runs[run];
        line + (row - first) as u64
    }

    /// Every row's line, in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len).map(|row| self.get(row))
    }

    /// One more row, on `line`.
    #[inline]
    pub(crate) fn push(&mut self, line: u64) {
        if self.len == 0 || line != self.next {
            self.runs.push((self.len, line));
        }
        self.next = line + 1;
        self.len += 1;
    }

    /// Keeps the first `rows`.
    pub(crate) fn truncate(&mut self, rows: usize) {
        if rows >= self.len {
            return;
        }
        self.runs
            .truncate(self.runs.partition_point(|&(first, _)| first < rows));
        self.len = rows;
        self.next = match rows {
            0 => 0,
            n => self.get(n - 1) + 1,
        };
    }

    /// Adds `other`'s rows after these, their lines moved down by `base`.
    pub(crate) fn append(&mut self, other: &LineNumbers, base: u64) {
        for &(first, line) in &other.runs {
            let (row, line) = (self.len + first, line + base);
            if !(first == 0 && self.len > 0 && line == self.next) {
                self.runs.push((row, line));
            }
        }
        if !other.is_empty() {
            self.len += other.len;
            self.next = other.next + base;
        }
    }

    /// Moves the first `rows` out.
    pub(crate) fn take_front(&mut self, rows: usize) -> LineNumbers {
        let rows = rows.min(self.len);
        let mut front = self.clone();
        front.truncate(rows);
        if rows == self.len {
            *self = LineNumbers::default();
            return front;
        }
        let cut = self.runs.partition_point(|&(first, _)| first <= rows);
        let mut runs = Vec::with_capacity(self.runs.len() - cut + 1);
        runs.push((0, self.get(rows)));
        runs.extend(
            self.runs[cut..]
                .iter()
                .map(|&(first, line)| (first - rows, line)),
        );
        self.runs = runs;
        self.len -= rows;
        front
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as runs against the same lines as a plain list, through every operation.
    #[test]
    fn runs_give_the_lines_a_list_gives() {
        let mut next = crate::test_rng(0x11E5);
        let mut lines = LineNumbers::default();
        let mut list: Vec<u64> = Vec::new();
        let mut line = 1u64;
        for step in 0..20_000 {
            match next() % 10 {
                0 => {
                    let rows = next() % (list.len() + 2);
                    let front = lines.take_front(rows);
                    let want: Vec<u64> = list.drain(..rows.min(list.len())).collect();
                    assert_eq!(front.iter().collect::<Vec<_>>(), want, "step {step}");
                }
                1 => {
                    let rows = next() % (list.len() + 2);
                    lines.truncate(rows);
                    list.truncate(rows);
                }
                2 => {
                    let (mut other, mut more) = (LineNumbers::default(), Vec::new());
                    let mut l = (next() % 5) as u64;
                    for _ in 0..next() % 6 {
                        l += 1 + next().is_multiple_of(3) as u64;
                        other.push(l);
                        more.push(l);
                    }
                    let base = line;
                    lines.append(&other, base);
                    list.extend(more.iter().map(|l| l + base));
                    line = list.last().map_or(line, |l| l + 1);
                }
                _ => {
                    // Mostly the next line; sometimes a blank line or a record over lines skipped.
                    line += next().is_multiple_of(4) as u64 * (1 + (next() % 3) as u64);
                    lines.push(line);
                    list.push(line);
                    line += 1;
                }
            }
            assert_eq!(lines.len(), list.len(), "step {step}");
            assert_eq!(lines.iter().collect::<Vec<_>>(), list, "step {step}");
        }
        // Consecutive lines take one run however many rows.
        let mut one = LineNumbers::default();
        (7..100_007).for_each(|l| one.push(l));
        assert_eq!((one.runs.len(), one.get(99_999)), (1, 100_006));
    }
}
