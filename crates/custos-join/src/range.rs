//! A byte range of the joined file, part by part: its head, then each
//! fragment it touches, made only when reached. [`Joined::read_range`]
//! walks a range in one go; a server that must not hold a thread while a
//! client is slow takes it a part at a time ([`Joined::cursor`],
//! [`Joined::next_part`]).

use crate::{write, Fragment, Joined, Piece};

/// A piece of the joined file that can be kept: its own boxes' bytes, or
/// bytes to read from a clip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Span {
    Made(Vec<u8>),
    Clip {
        clip: usize,
        offset: u64,
        length: u64,
    },
}

/// How far a range has been read.
#[derive(Clone, Debug)]
pub struct Cursor {
    start: u64,
    end: u64,
    /// The next part: 0 is the head, n the fragment n − 1.
    next: usize,
}

impl Joined {
    /// A range `start..=end` to read part by part; past the file's end it
    /// is empty.
    pub fn cursor(&self, start: u64, end: u64) -> Cursor {
        let end = end.min(self.length.saturating_sub(1));
        let next = if start > end || start >= self.length {
            usize::MAX
        } else if start < self.head.len() as u64 {
            0
        } else {
            1 + self
                .fragments
                .partition_point(|f| f.at + f.moof + f.mdat <= start)
        };
        Cursor { start, end, next }
    }

    /// The pieces of the next part the range touches, in order; `None`
    /// when the range is read.
    pub fn next_part(&self, c: &mut Cursor) -> Option<Vec<Span>> {
        let part_start = match c.next {
            0 => 0,
            n => self.fragments.get(n - 1)?.at,
        };
        if part_start > c.end {
            return None;
        }
        let mut out = Vec::new();
        let (start, end) = (c.start, c.end);
        let mut keep = |at: u64, piece: Piece<'_>| {
            if let Some(p) = clipped(at, piece, start, end) {
                out.push(match p {
                    Piece::Made(b) => Span::Made(b.to_vec()),
                    Piece::Clip {
                        clip,
                        offset,
                        length,
                    } => Span::Clip {
                        clip,
                        offset,
                        length,
                    },
                });
            }
        };
        match c.next {
            0 => keep(0, Piece::Made(&self.head)),
            n => self.fragment_pieces(&self.fragments[n - 1], &mut keep),
        }
        c.next += 1;
        Some(out)
    }

    /// The bytes `start..=end` of the joined file, in order, as pieces
    /// given one by one to `each` (which may stop the walk with an error).
    /// Only the fragments the range touches are made.
    pub fn read_range<E>(
        &self,
        start: u64,
        end: u64,
        mut each: impl FnMut(Piece<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut c = self.cursor(start, end);
        while let Some(spans) = self.next_part(&mut c) {
            for s in &spans {
                each(match s {
                    Span::Made(b) => Piece::Made(b),
                    Span::Clip {
                        clip,
                        offset,
                        length,
                    } => Piece::Clip {
                        clip: *clip,
                        offset: *offset,
                        length: *length,
                    },
                })?;
            }
        }
        Ok(())
    }

    /// A fragment's pieces with where each starts in the file: its `moof`
    /// and `mdat` header, then its samples track by track, samples that
    /// follow one another in the clip as one piece.
    fn fragment_pieces(&self, f: &Fragment, emit: &mut impl FnMut(u64, Piece<'_>)) {
        let made = write::moof_and_mdat_header(self, f);
        emit(f.at, Piece::Made(&made));
        let mut at = f.at + made.len() as u64;
        let mut run: Option<(u64, u64)> = None;
        let mut flush = |run: &mut Option<(u64, u64)>, at: &mut u64| {
            if let Some((offset, length)) = run.take() {
                emit(
                    *at,
                    Piece::Clip {
                        clip: f.clip,
                        offset,
                        length,
                    },
                );
                *at += length;
            }
        };
        for (t, range) in self.tracks.iter().zip(&f.samples) {
            for s in &t.per_clip[f.clip][range.clone()] {
                match &mut run {
                    Some((offset, length)) if *offset + *length == s.offset => {
                        *length += u64::from(s.size);
                    }
                    _ => {
                        flush(&mut run, &mut at);
                        run = Some((s.offset, u64::from(s.size)));
                    }
                }
            }
        }
        flush(&mut run, &mut at);
    }
}

/// The part of `piece`, which starts at `at` in the file, inside
/// `start..=end`.
fn clipped(at: u64, piece: Piece<'_>, start: u64, end: u64) -> Option<Piece<'_>> {
    let length = match piece {
        Piece::Made(b) => b.len() as u64,
        Piece::Clip { length, .. } => length,
    };
    let (lo, hi) = (at.max(start), (at + length).min(end + 1));
    if lo >= hi {
        return None;
    }
    let (skip, take) = (lo - at, hi - lo);
    Some(match piece {
        Piece::Made(b) => Piece::Made(&b[skip as usize..(skip + take) as usize]),
        Piece::Clip { clip, offset, .. } => Piece::Clip {
            clip,
            offset: offset + skip,
            length: take,
        },
    })
}
