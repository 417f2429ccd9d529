//! The verdict, GOP by GOP (docs/SIGNED-VIDEO.md §3, §5): NAL units go in
//! in stream order; each signed SEI checks the GOP it closes.

use std::collections::VecDeque;

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::pkcs8::DecodePublicKey;

use crate::nal::{self, Class, Codec};
use crate::sei::{self, Found, HashAlgorithm, ProductInfo, Sei};

/// Which of the framework's two hashing schemes the stream uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Signer 2.x: disjoint GOPs, each chained to the last by a linked hash.
    Current,
    /// Signer 1.x: the next GOP's I-frame closes each GOP's hash list.
    Legacy,
}

/// Why a GOP is not authentic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// The SEI's signature does not verify with the stream's key.
    Signature,
    /// Frames whose hashes are not the signed ones (listed in `bad`).
    Frames,
    /// The GOP's first frame is not the one the next GOP's SEI chains to:
    /// the previous GOP's I-frame was changed or replaced.
    Link,
    /// The stream's key changed, or is not the key pinned for its device.
    Key,
    /// Its SEI never came (a counter jumped): nothing signs these frames.
    SeiMissing,
    /// Its counter does not follow the previous GOP's: GOPs were removed,
    /// repeated or put in another order.
    Sequence,
    /// Frames it signed are not in the stream (listed as `missing`).
    Missing,
    /// The SEI asks for what this verifier cannot check (named in the
    /// report's problems): not shown authentic, not shown altered.
    Unverifiable,
}

/// One GOP's verdict.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Gop {
    /// The signer's GOP counter (from its SEI; the expected one for a
    /// missing SEI).
    pub counter: u32,
    /// Its first and last frame (MP4 sample or Annex B NAL index).
    pub first: Option<u64>,
    pub last: Option<u64>,
    /// Frames checked.
    pub frames: u32,
    /// Signed frames that are not in the stream.
    pub missing: u32,
    pub failure: Option<Failure>,
    /// Frames that do not match their signed hash.
    pub bad: Vec<u64>,
}

/// What a stream's signatures show.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    pub codec: Option<Codec>,
    pub scheme: Option<Scheme>,
    /// The signer's software version, as its SEIs say.
    pub signer: Option<String>,
    pub hash: Option<HashAlgorithm>,
    /// SHA-256 of the signing key's SubjectPublicKeyInfo DER, hex.
    pub key_sha256: Option<String>,
    /// The camera's own words (signed, not vouched for by anyone else).
    pub product: Option<ProductInfo>,
    /// Axis' attestation of the key came with it (not checked here).
    pub attestation: bool,
    pub gops: Vec<Gop>,
    /// Pictures in the stream.
    pub frames: u64,
    /// Pictures no signature covers (after the last SEI; before the
    /// first, when a file starts mid-stream).
    pub unsigned_frames: u64,
    /// NAL units of pictures the framework never hashes (data partitions,
    /// RASL/RADL, invalid headers): a decoder may show what no signature
    /// covers.
    #[serde(default)]
    pub unprotected_units: u64,
    /// ONVIF Media Signing SEIs (another format, not verified).
    pub onvif: bool,
    /// What could not be read or checked, in words.
    pub problems: Vec<String>,
}

/// The report in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// No signed-video SEI at all.
    Unsigned,
    /// Every frame is signed and every signature and hash holds.
    Authentic,
    /// What is signed holds, but some frames are unsigned or some signed
    /// ones are not in the stream.
    Incomplete,
    /// The signatures could not be checked (an unsupported key or hash,
    /// an unreadable SEI): neither shown authentic nor shown altered.
    Unverifiable,
    /// A signature, a hash or a link fails: the footage was altered.
    Altered,
}

impl Outcome {
    /// The word it is written as (its JSON form).
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Unsigned => "unsigned",
            Outcome::Authentic => "authentic",
            Outcome::Incomplete => "incomplete",
            Outcome::Unverifiable => "unverifiable",
            Outcome::Altered => "altered",
        }
    }
}

impl Report {
    pub fn outcome(&self) -> Outcome {
        let failed = |f: Failure| self.gops.iter().any(|g| g.failure == Some(f));
        if self.scheme.is_none() && self.problems.is_empty() {
            return Outcome::Unsigned;
        }
        if [
            Failure::Signature,
            Failure::Frames,
            Failure::Link,
            Failure::Key,
            Failure::SeiMissing,
            Failure::Sequence,
            Failure::Missing,
        ]
        .into_iter()
        .any(failed)
        {
            return Outcome::Altered;
        }
        if failed(Failure::Unverifiable) || !self.problems.is_empty() || self.gops.is_empty() {
            return Outcome::Unverifiable;
        }
        if self.unsigned_frames > 0 || self.unprotected_units > 0 {
            return Outcome::Incomplete;
        }
        Outcome::Authentic
    }

    /// The first GOP that fails, in words a reviewer reads.
    pub fn first_failure(&self) -> Option<String> {
        self.gops.iter().find_map(Gop::failure_in_words)
    }
}

impl Gop {
    /// `GOP 4 (frames 124–186): frame 137 is not …`, if it fails.
    pub fn failure_in_words(&self) -> Option<String> {
        let span = match (self.first, self.last) {
            (Some(a), Some(b)) => format!("frames {a}–{b}"),
            _ => "no frames".into(),
        };
        let why = match self.failure? {
            Failure::Signature => "its signature does not verify".into(),
            Failure::Frames if self.bad.len() == 1 => {
                format!("frame {} is not the frame that was signed", self.bad[0])
            }
            Failure::Frames => format!(
                "frames {} are not the frames that were signed",
                list(&self.bad)
            ),
            Failure::Link => "its I-frame is not the one the next GOP chains to".into(),
            Failure::Key => "it is signed with another key".into(),
            Failure::SeiMissing => "its signature never came".into(),
            Failure::Sequence => {
                "its counter does not follow the previous GOP's: GOPs removed, repeated or reordered"
                    .into()
            }
            Failure::Missing => format!(
                "{} signed frame{} not in the clip",
                self.missing,
                if self.missing == 1 { " is" } else { "s are" }
            ),
            Failure::Unverifiable => "it cannot be checked".into(),
        };
        Some(format!("GOP {} ({span}): {why}", self.counter))
    }
}

fn list(frames: &[u64]) -> String {
    let shown: Vec<String> = frames.iter().take(10).map(u64::to_string).collect();
    let more = frames.len().saturating_sub(10);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Pictures kept waiting for a signature, at most: many GOPs' worth (a
/// frame-level hash list holds 600). Older ones are counted unsigned, so
/// a stream of a billion tiny pictures and no SEI costs no more memory.
const MAX_WAITING: usize = 50_000;
/// Legacy SEIs waiting for their GOP's last frame, at most.
const MAX_PENDING: usize = 16;

/// A picture waiting for the SEI that signs it.
struct Picture {
    at: u64,
    /// The hash a hash list carries for it.
    hash: Vec<u8>,
    gop_start: bool,
}

/// Legacy: each GOP-starting I-frame is used twice, closing one GOP and
/// opening the next.
struct Use {
    at: u64,
    /// Index of the NAL unit, to find "the first picture after the SEI".
    nal: u64,
    hash: Vec<u8>,
    link: bool,
}

/// A SEI's signature, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    Holds,
    Fails,
    /// Another key than the stream's first, or than the pinned one.
    Key,
    /// No key, or one or a hash this verifier cannot use.
    Unverifiable,
}

impl Check {
    fn failure(self) -> Option<Failure> {
        match self {
            Check::Holds => None,
            Check::Fails => Some(Failure::Signature),
            Check::Key => Some(Failure::Key),
            Check::Unverifiable => Some(Failure::Unverifiable),
        }
    }
}

/// Options a caller may set.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The key this device signs with (SHA-256 of its SPKI DER), pinned
    /// from an earlier recording or its enrolment: another key fails.
    pub pinned_key_sha256: Option<[u8; 32]>,
}

/// Verifies a stream fed NAL unit by NAL unit.
pub struct Verifier {
    codec: Codec,
    options: Options,
    report: Report,
    hash: HashAlgorithm,
    key: Option<(p256::ecdsa::VerifyingKey, String)>,
    /// The hash of the latest GOP-starting I-frame.
    reference: Option<Vec<u8>>,
    nals: u64,
    // Current scheme.
    waiting: VecDeque<Picture>,
    previous_first: Option<Vec<u8>>,
    last_counter: Option<u32>,
    // Legacy scheme.
    uses: VecDeque<Use>,
    pending: VecDeque<(u64, Box<Sei>)>,
    /// Legacy pictures not yet consumed by any SEI, by position.
    unconsumed: std::collections::BTreeSet<u64>,
    /// Pictures dropped unsigned from the waiting lists ([`MAX_WAITING`]),
    /// from each scheme's own.
    dropped: u64,
    dropped_legacy: u64,
}

impl Verifier {
    pub fn new(codec: Codec, options: Options) -> Self {
        Self {
            codec,
            options,
            report: Report {
                codec: Some(codec),
                ..Report::default()
            },
            hash: HashAlgorithm::Sha256,
            key: None,
            reference: None,
            nals: 0,
            waiting: VecDeque::new(),
            previous_first: None,
            last_counter: None,
            uses: VecDeque::new(),
            pending: VecDeque::new(),
            unconsumed: Default::default(),
            dropped: 0,
            dropped_legacy: 0,
        }
    }

    fn problem(&mut self, what: String) {
        // A hostile stream may repeat one problem per frame: keep a few.
        if self.report.problems.len() < 32 && !self.report.problems.contains(&what) {
            self.report.problems.push(what);
        }
    }

    /// One NAL unit of frame `at` (its MP4 sample, or its own index).
    pub fn push(&mut self, at: u64, nal: &[u8]) {
        let nal = nal::trimmed(nal);
        let index = self.nals;
        self.nals += 1;
        match self.codec.classify(nal) {
            (Class::Sei, _) => self.sei(at, index, nal),
            (Class::Intra, true) => {
                self.report.frames += 1;
                let own = self.hash.digest(&[nal]);
                let link = match &self.reference {
                    Some(r) => self.hash.digest(&[r, &own]),
                    None => own.clone(),
                };
                self.reference = Some(own.clone());
                self.picture(at, index, own, true, Some(link));
            }
            (Class::Intra | Class::Picture, primary) => {
                if primary {
                    self.report.frames += 1;
                }
                let own = self.hash.digest(&[nal]);
                let reference = self
                    .reference
                    .clone()
                    .unwrap_or_else(|| vec![0; self.hash.size()]);
                let hash = self.hash.digest(&[&reference, &own]);
                self.picture(at, index, hash, false, None);
            }
            (Class::Unprotected, _) => self.report.unprotected_units += 1,
            (Class::Ignored, _) => {}
        }
    }

    fn picture(
        &mut self,
        at: u64,
        nal: u64,
        hash: Vec<u8>,
        gop_start: bool,
        link: Option<Vec<u8>>,
    ) {
        if self.report.scheme != Some(Scheme::Current) {
            if let Some(link) = link {
                self.uses.push_back(Use {
                    at,
                    nal,
                    hash: link,
                    link: true,
                });
            }
            self.uses.push_back(Use {
                at,
                nal,
                hash: hash.clone(),
                link: false,
            });
            self.unconsumed.insert(at);
        }
        if self.report.scheme != Some(Scheme::Legacy) {
            self.waiting.push_back(Picture {
                at,
                hash,
                gop_start,
            });
            if self.waiting.len() > MAX_WAITING {
                self.waiting.pop_front();
                self.dropped += 1;
            }
        }
        while self.uses.len() > 2 * MAX_WAITING {
            if let Some(gone) = self.uses.pop_front() {
                if !gone.link && self.unconsumed.remove(&gone.at) {
                    self.dropped_legacy += 1;
                }
            }
        }
        if self.report.scheme == Some(Scheme::Legacy) {
            self.legacy_pending(false);
        }
    }

    fn sei(&mut self, _at: u64, index: u64, nal: &[u8]) {
        let sei = match sei::read(self.codec, nal) {
            Found::Other => return,
            Found::Onvif => {
                self.report.onvif = true;
                self.problem("ONVIF Media Signing SEIs: another format, not verified".into());
                return;
            }
            Found::Broken(e) => {
                self.problem(format!("an unreadable signed-video SEI: {e}"));
                return;
            }
            Found::Signed(sei) => sei,
        };
        if sei.signature.is_none() {
            self.problem(
                "a signed-video SEI without a signature (a camera signing less often than every GOP): not supported"
                    .into(),
            );
            return;
        }
        if sei.general.is_none() {
            // A golden SEI: key material only, signed; no frames.
            if self.signature(&sei) != Check::Holds {
                self.problem("a key-delivering SEI whose signature does not verify".into());
            }
            return;
        }
        if self.report.scheme.is_none() {
            let scheme = if sei.legacy() {
                self.waiting.clear();
                Scheme::Legacy
            } else {
                // The current scheme never needs the legacy bookkeeping.
                self.uses.clear();
                self.unconsumed.clear();
                Scheme::Current
            };
            self.report.scheme = Some(scheme);
        }
        if let Some(g) = &sei.general {
            let [a, b, c] = g.signer;
            self.report.signer = Some(format!("{a}.{b}.{c}"));
        }
        if sei.product.is_some() {
            self.report.product.clone_from(&sei.product);
        }
        if sei.vendor_axis.is_some() {
            self.report.attestation = true;
        }
        match self.report.scheme {
            Some(Scheme::Current) => self.current(sei),
            _ => {
                if self.pending.len() >= MAX_PENDING {
                    self.problem(format!(
                        "more than {MAX_PENDING} signatures wait for their GOP's last frame"
                    ));
                    return;
                }
                self.pending.push_back((index, sei));
                self.legacy_pending(false);
            }
        }
    }

    /// Takes up the SEI's key, then checks its signature over the hash of
    /// its document (used as the digest, not hashed again).
    fn signature(&mut self, sei: &Sei) -> Check {
        // Pictures are hashed as they pass, before the first SEI names
        // the hash: only the framework's default can be checked.
        if sei.unknown_hash || sei.hash.is_some_and(|h| h != HashAlgorithm::Sha256) {
            self.problem(format!(
                "hash algorithm {} (only SHA-256, the framework's default, is supported)",
                sei.hash.map_or("unknown".into(), |h| format!("{h:?}"))
            ));
            return Check::Unverifiable;
        }
        self.report.hash = Some(self.hash);
        if let Some(pem) = &sei.public_key {
            match &self.key {
                Some((_, known)) if known == pem => {}
                Some(_) => {
                    self.problem("the signing key changed within the stream".into());
                    return Check::Key;
                }
                None => match p256::ecdsa::VerifyingKey::from_public_key_pem(pem) {
                    Ok(key) => {
                        use p256::pkcs8::EncodePublicKey;
                        let der = key
                            .to_public_key_der()
                            .map(|d| d.as_bytes().to_vec())
                            .unwrap_or_default();
                        let sha = HashAlgorithm::Sha256.digest(&[&der]);
                        if let Some(pinned) = self.options.pinned_key_sha256 {
                            if pinned[..] != sha[..] {
                                self.problem(
                                    "the stream's key is not the one pinned for its camera".into(),
                                );
                                return Check::Key;
                            }
                        }
                        self.report.key_sha256 = Some(hex::encode(sha));
                        self.key = Some((key, pem.clone()));
                    }
                    Err(_) => {
                        self.problem(
                            "a public key that is not ECDSA P-256 (RSA and other curves are not supported)"
                                .into(),
                        );
                        return Check::Unverifiable;
                    }
                },
            }
        }
        let Some((key, _)) = &self.key else {
            self.problem("signed frames, but no public key in the stream".into());
            return Check::Unverifiable;
        };
        let Some(signature) = &sei.signature else {
            return Check::Unverifiable;
        };
        let Ok(signature) = p256::ecdsa::Signature::from_der(&signature.der) else {
            return Check::Fails;
        };
        let digest = self.hash.digest(&[&sei.document]);
        if key.verify_prehash(&digest, &signature).is_ok() {
            Check::Holds
        } else {
            Check::Fails
        }
    }

    /// The oldest waiting pictures up to (not including) a second GOP
    /// start, or `limit` of them.
    fn take_gop(&mut self, limit: Option<usize>) -> Vec<Picture> {
        let mut taken: Vec<Picture> = Vec::new();
        while let Some(p) = self.waiting.front() {
            if (p.gop_start && !taken.is_empty()) || limit.is_some_and(|l| taken.len() >= l) {
                break;
            }
            taken.extend(self.waiting.pop_front());
        }
        taken
    }

    fn current(&mut self, sei: Box<Sei>) {
        let check = self.signature(&sei);
        let signed = check == Check::Holds;
        let Some(general) = sei.general.clone() else {
            return;
        };
        let counter = general.gop_counter;
        let mut out_of_order = false;
        if signed {
            if let Some(last) = self.last_counter {
                let lost = counter.wrapping_sub(last).wrapping_sub(1);
                // Within one file the counter goes up by one: a jump back,
                // a repeat or one of thousands is GOPs spliced in.
                out_of_order = lost >= 1000;
                if (1..1000).contains(&lost) {
                    for n in 1..=lost {
                        let gone = self.take_gop(None);
                        if gone.is_empty() {
                            break;
                        }
                        self.previous_first = None;
                        self.report.gops.push(Gop {
                            counter: last.wrapping_add(n),
                            first: gone.first().map(|p| p.at),
                            last: gone.last().map(|p| p.at),
                            frames: gone.len() as u32,
                            missing: 0,
                            failure: Some(Failure::SeiMissing),
                            bad: gone.iter().map(|p| p.at).collect(),
                        });
                    }
                }
            }
            self.last_counter = Some(counter);
        } else if let Some(last) = self.last_counter {
            // A SEI whose signature fails still stands for its GOP; its
            // counter, unsigned, is not believed.
            self.last_counter = Some(last.wrapping_add(1));
        }
        let limit = general.partial.then_some(usize::from(general.num_hashed));
        let covered = self.take_gop(limit);
        let hashes: Vec<&[u8]> = covered.iter().map(|p| &p.hash[..]).collect();
        let mut parts: Vec<&[u8]> = vec![&[1u8]];
        parts.extend(&hashes);
        let gop_hash_holds = general.gop_hash.as_deref() == Some(&self.hash.digest(&parts)[..]);
        let link_holds = match (&self.previous_first, &general.linked_hash) {
            (Some(first), Some(linked)) => first == linked,
            _ => true,
        };
        // A SEI that covers nothing leaves the chain where it was: the
        // next GOP must still link to the last frames seen.
        if let Some(first) = covered.first() {
            self.previous_first = Some(first.hash.clone());
        }
        let (mut bad, mut missing) = (Vec::new(), 0);
        let mut unverifiable = false;
        if gop_hash_holds {
            missing = usize::from(general.num_hashed).saturating_sub(covered.len());
        } else if let Some(list) = &sei.hash_list {
            // The signer's last SEI carries a stale GOP hash: its hash list
            // is what signs that GOP (and tells which frame differs).
            (bad, missing) = match_list(&covered, &hashes, list, self.hash.size());
        } else {
            unverifiable = general.gop_hash.is_none();
            bad = covered.iter().map(|p| p.at).collect();
        }
        let failure = if let Some(f) = check.failure() {
            bad = covered.iter().map(|p| p.at).collect();
            Some(f)
        } else if unverifiable {
            Some(Failure::Unverifiable)
        } else if out_of_order {
            bad = covered.iter().map(|p| p.at).collect();
            Some(Failure::Sequence)
        } else if !link_holds {
            if let Some(first) = covered.first() {
                if !bad.contains(&first.at) {
                    bad.insert(0, first.at);
                }
            }
            Some(Failure::Link)
        } else if !bad.is_empty() {
            Some(Failure::Frames)
        } else if missing > 0 {
            Some(Failure::Missing)
        } else {
            None
        };
        self.report.gops.push(Gop {
            counter,
            first: covered.first().map(|p| p.at),
            last: covered.last().map(|p| p.at),
            frames: covered.len() as u32,
            missing: missing as u32,
            failure,
            bad,
        });
    }

    /// Legacy: checks the SEIs whose GOP is complete (at the end of the
    /// stream, every one left).
    fn legacy_pending(&mut self, end: bool) {
        while let Some((sei_nal, _)) = self.pending.front() {
            let sei_nal = *sei_nal;
            if self.uses.is_empty() {
                if end {
                    let (_, sei) = self.pending.pop_front().expect("front exists");
                    self.legacy(&sei, Vec::new());
                    continue;
                }
                return;
            };
            let mut until = None;
            for (k, u) in self.uses.iter().enumerate() {
                if u.link || u.nal > sei_nal {
                    until = Some(k);
                    break;
                }
            }
            let taken: Vec<Use> = match until {
                Some(k) => self.uses.drain(..=k).collect(),
                None if end => self.uses.drain(..).collect(),
                None => return,
            };
            let (_, sei) = self.pending.pop_front().expect("front exists");
            self.legacy(&sei, taken);
        }
    }

    fn legacy(&mut self, sei: &Sei, taken: Vec<Use>) {
        let check = self.signature(sei);
        let general = sei.general.clone().expect("checked before");
        let hashes: Vec<&[u8]> = taken.iter().map(|u| &u.hash[..]).collect();
        let pictures: Vec<Picture> = taken
            .iter()
            .map(|u| Picture {
                at: u.at,
                hash: Vec::new(),
                gop_start: false,
            })
            .collect();
        for u in &taken {
            // A picture is signed once its last use is.
            if !u.link {
                self.unconsumed.remove(&u.at);
            }
        }
        let (mut bad, mut missing) = (Vec::new(), 0);
        let mut failure = None;
        if sei.signature.as_ref().and_then(|s| s.hash_type) == Some(0) {
            self.problem(
                "legacy GOP-level signing (hash type 0): not supported, the GOPs cannot be checked"
                    .into(),
            );
            failure = Some(Failure::Unverifiable);
        } else if let Some(f) = check.failure() {
            bad = pictures.iter().map(|p| p.at).collect();
            failure = Some(f);
        } else {
            match &sei.hash_list {
                Some(list) => {
                    (bad, missing) = match_list(&pictures, &hashes, list, self.hash.size());
                }
                None => {
                    self.problem("a legacy SEI without a hash list".into());
                    failure = Some(Failure::Unverifiable);
                }
            }
            if failure.is_none() && !bad.is_empty() {
                failure = Some(Failure::Frames);
            }
        }
        if failure.is_none() && check == Check::Holds {
            let counter = general.gop_counter;
            if self
                .last_counter
                .is_some_and(|last| counter != last.wrapping_add(1))
            {
                bad = pictures.iter().map(|p| p.at).collect();
                failure = Some(Failure::Sequence);
            } else if missing > 0 {
                failure = Some(Failure::Missing);
            }
        }
        if check == Check::Holds {
            self.last_counter = Some(general.gop_counter);
        } else if let Some(last) = self.last_counter {
            self.last_counter = Some(last.wrapping_add(1));
        }
        bad.dedup();
        self.report.gops.push(Gop {
            counter: general.gop_counter,
            first: taken.first().map(|u| u.at),
            last: taken.last().map(|u| u.at),
            frames: taken.len() as u32,
            missing: missing as u32,
            failure,
            bad,
        });
    }

    /// The stream ended: the last legacy GOP is checked with what there is,
    /// and what no SEI covered is counted unsigned.
    pub fn finish(mut self) -> Report {
        match self.report.scheme {
            Some(Scheme::Legacy) => {
                self.legacy_pending(true);
                self.report.unsigned_frames = self.unconsumed.len() as u64 + self.dropped_legacy;
            }
            Some(Scheme::Current) => {
                self.report.unsigned_frames = self.waiting.len() as u64 + self.dropped;
            }
            None => {}
        }
        if self.report.scheme.is_none() {
            self.report.unsigned_frames = self.report.frames;
        }
        self.report
    }
}

/// Matches computed hashes to a signed hash list in order, as the
/// framework does: each picture takes the first matching entry after the
/// last match, else it is bad; entries never matched are missing frames.
fn match_list(
    pictures: &[Picture],
    hashes: &[&[u8]],
    list: &[u8],
    size: usize,
) -> (Vec<u64>, usize) {
    if !list.len().is_multiple_of(size) {
        return (pictures.iter().map(|p| p.at).collect(), 0);
    }
    let expected: Vec<&[u8]> = list.chunks(size).collect();
    let (mut bad, mut missing) = (Vec::new(), 0usize);
    let mut last: Option<usize> = None;
    let mut bad_since = 0usize;
    for (p, h) in pictures.iter().zip(hashes) {
        let from = last.map_or(0, |l| l + 1);
        match (from..expected.len()).find(|&k| expected[k] == *h) {
            Some(k) => {
                // Entries skipped beyond the bad pictures in between are
                // frames the stream lacks.
                missing += (k - from).saturating_sub(bad_since);
                last = Some(k);
                bad_since = 0;
            }
            None => {
                bad.push(p.at);
                bad_since += 1;
            }
        }
    }
    if let Some(l) = last {
        missing += expected.len() - 1 - l;
    }
    // However they matched, entries beyond the pictures there are are
    // frames the stream lacks.
    (
        bad,
        missing.max(expected.len().saturating_sub(pictures.len())),
    )
}
