//! Benchmarks named by the issues; their figures go to docs/PERFORMANCE.md.
//! Each prints a human summary and one JSON line for tooling.

use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use custos_camera::encoder::EncodedFrame;
use custos_camera::prerecord::PrerecordRing;
use custos_camera::recorder::{ActiveRecording, StartParams};
use custos_camera::storage::CameraConfig;
use custos_camera::CameraDir;
use custos_format::{RecordingWriter, SigningKey, StopReason, Trigger};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// P1: encrypt+write throughput of the camera pipeline vs `age -r` on the
    /// same bytes, and CPU per second of 1080p30 8 Mbit/s video (encoding excluded).
    CameraPipeline {
        /// Seconds of video to push through.
        #[arg(long, default_value_t = 120)]
        seconds: u64,
        #[arg(long, default_value = "8M", value_parser = crate::device::parse_bitrate)]
        bitrate: u32,
        /// Directory to write in (default: a temporary directory).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// P2: ingest of one large recording through dock → server on loopback
    /// vs `cp` of the same bytes to the same disk; the server's peak RSS.
    Ingest {
        /// Size of the recording's ciphertext, e.g. 2G.
        #[arg(long, default_value = "2G", value_parser = crate::device::parse_bytes)]
        size: u64,
        /// Directory to work in (default: a temporary directory).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
        #[command(flatten)]
        storage: crate::bench_storage::BenchStorage,
    },
    /// Issue 23: one Axis clip through the Swift PUT of the Axis listener
    /// vs `cp` + `sync` of the same bytes; the server's RSS; many system
    /// controllers uploading at once.
    Axis {
        /// The clip's size, e.g. 2G.
        #[arg(long, default_value = "2G", value_parser = crate::device::parse_bytes)]
        size: u64,
        /// System controllers uploading a recording each at once.
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// The size of each of their clips.
        #[arg(long, default_value = "20M", value_parser = crate::device::parse_bytes)]
        client_size: u64,
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Issue 7: an export of a case's recordings through the API vs `cp` of
    /// the same stored bytes; the server's memory; `custos verify` after.
    Export {
        /// Stored bytes in all, e.g. 10G.
        #[arg(long, default_value = "10G", value_parser = crate::device::parse_bytes)]
        size: u64,
        #[arg(long, default_value_t = 5)]
        recordings: u64,
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Issue 8: redaction render speed as a multiple of real time (decode,
    /// pixelate three moving boxes, encode), on a synthetic clip.
    Redact {
        #[arg(long, default_value_t = 1280)]
        width: usize,
        #[arg(long, default_value_t = 720)]
        height: usize,
        #[arg(long, default_value_t = 30)]
        fps: u32,
        /// Seconds of video.
        #[arg(long, default_value_t = 20)]
        seconds: u32,
    },
    /// Issue 8: face proposals per second on 1280×720 frames tiled from the
    /// labelled clip, and its precision and recall.
    Faces {
        /// The labelled clip (PGM frames and their JSON labels beside them).
        #[arg(long, default_value = "crates/custos-faces/testdata/clip.pgm")]
        clip: std::path::PathBuf,
        #[arg(long, default_value_t = 30)]
        frames: usize,
    },
    /// Issue 23: what a request for an Axis recording as one video
    /// (`…/joined`) costs besides reading its bytes: an MP4 clip read
    /// `copies` times as a recording's clips, their tables parsed, the
    /// joined file laid out and walked whole; beside SHA-256 over the same
    /// bytes (reading them once) in the same run.
    Joined {
        /// A progressive MP4 (e.g. made by ffmpeg, or an Axis camera's).
        #[arg(long)]
        clip: std::path::PathBuf,
        #[arg(long, default_value_t = 6)]
        copies: usize,
    },
    /// Shift change: many cameras docking at once, several recordings each.
    ShiftChange {
        #[arg(long, default_value_t = 200)]
        cameras: usize,
        #[arg(long, default_value_t = 5)]
        recordings: usize,
        /// Ciphertext size of each recording, e.g. 1M.
        #[arg(long, default_value = "1M", value_parser = crate::device::parse_bytes)]
        size: u64,
        /// Cameras offloaded at once (default: all of them).
        #[arg(long)]
        concurrency: Option<usize>,
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Issue 21: offload under faults — kill -9 of dock and server, damaged
    /// camera files, two docks at once, a full disk — and what was lost,
    /// held twice, wrongly wiped or falsely raised.
    Faults(crate::bench_faults::FaultArgs),
    /// P4: durable audit appends per second (group commit) and `audit
    /// verify` of a large log.
    Audit {
        #[arg(long, default_value_t = 200_000)]
        entries: u64,
        #[arg(long, default_value_t = 256)]
        writers: usize,
        /// Size of the log `audit verify` checks.
        #[arg(long, default_value_t = 1_000_000)]
        verify: u64,
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// P3: decrypting range playback vs nginx serving the plaintext (wrk),
    /// and seek latency at random offsets. Needs Debian's nginx and wrk.
    Playback {
        #[arg(long, default_value = "4G", value_parser = crate::device::parse_bytes)]
        size: u64,
        /// Bytes each request asks for (a player's read-ahead).
        #[arg(long, default_value = "1M", value_parser = crate::device::parse_bytes)]
        range: u64,
        /// Seconds each wrk run lasts.
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        #[arg(long, default_value_t = 500)]
        seeks: usize,
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
        #[command(flatten)]
        storage: crate::bench_storage::BenchStorage,
    },
    /// P6: the recordings list's searches over a catalog of `rows`
    /// recordings (pages of 25 with the total), on SQLite or PostgreSQL.
    Search {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Searches in all, spread over the kinds of search.
        #[arg(long, default_value_t = 400)]
        queries: usize,
        /// postgres://… to measure PostgreSQL (a schema of its own); default SQLite.
        #[arg(long)]
        database: Option<String>,
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// P7: the statistics page over a year of a city's cameras.
    Stats {
        #[arg(long, default_value_t = 1_000_000)]
        recordings: u64,
        #[arg(long, default_value_t = 10_000_000)]
        entries: u64,
        #[arg(long, default_value_t = 400)]
        cameras: u64,
        /// Measurements of each kind (half of them for one team).
        #[arg(long, default_value_t = 10)]
        runs: usize,
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
        /// Keep the generated deployment (its path is printed) to look into.
        #[arg(long)]
        keep: bool,
    },
    /// P5: a retention sweep of `due` recordings among `rows`.
    Sweep {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long, default_value_t = 10_000)]
        due: u64,
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Under attack (issue 19): `custos serve` while CLIENTS from eight
    /// other addresses flood sign-in and send malformed dock and API
    /// requests; a reviewer plays ranges and reviewers sign in meanwhile.
    Abuse {
        #[arg(long, default_value_t = 200)]
        clients: usize,
        /// Seconds the flood lasts.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Seconds of range playback measured before, with no flood.
        #[arg(long, default_value_t = 15)]
        idle_seconds: u64,
        /// The recording played.
        #[arg(long, default_value = "256M", value_parser = crate::device::parse_bytes)]
        size: u64,
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
        /// Run the flood at the same CPU priority as the server (by default it
        /// runs as SCHED_IDLE, as if from other hosts: on one machine its own
        /// CPU would otherwise be taken from the server it attacks).
        #[arg(long)]
        same_priority: bool,
        /// Internal: be the flood, against this port (with --flood-cert).
        #[arg(long, hide = true)]
        flood_port: Option<u16>,
        #[arg(long, hide = true)]
        flood_cert: Option<std::path::PathBuf>,
    },
    /// Pre-record memory: RSS growth on standby vs bitrate × window.
    PrerecordMemory {
        #[arg(long, default_value = "30s", value_parser = crate::device::parse_seconds)]
        prerecord: u32,
        /// Measure the whole camera on standby (synthetic source, real encoder)
        /// instead of the ring fed at exactly the given bitrate. Separate runs:
        /// RSS in one process depends on what ran before.
        #[arg(long)]
        camera: bool,
        #[arg(long, default_value = "8M", value_parser = crate::device::parse_bitrate)]
        bitrate: u32,
    },
}

pub fn run(command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::ShiftChange {
            cameras,
            recordings,
            size,
            concurrency,
            dir,
        } => crate::bench_ingest::shift_change(
            cameras,
            recordings,
            size,
            concurrency.unwrap_or(cameras),
            dir,
        ),
        BenchCommand::Ingest { size, dir, storage } => crate::bench_ingest::run(size, dir, storage),
        BenchCommand::Axis {
            size,
            clients,
            client_size,
            dir,
        } => crate::bench_axis::run(size, clients, client_size, dir),
        BenchCommand::Faces { clip, frames } => faces(&clip, frames),
        BenchCommand::Joined { clip, copies } => crate::bench_joined::run(&clip, copies),
        BenchCommand::Redact {
            width,
            height,
            fps,
            seconds,
        } => redact(width, height, fps, seconds),
        BenchCommand::Export {
            size,
            recordings,
            dir,
        } => crate::bench_export::run(size, recordings, dir),
        BenchCommand::Audit {
            entries,
            writers,
            verify,
            dir,
        } => crate::bench_server::audit_appends(entries, writers, verify, dir),
        BenchCommand::Faults(args) => crate::bench_faults::run(args),
        BenchCommand::Sweep { rows, due, dir } => crate::bench_server::sweep(rows, due, dir),
        BenchCommand::Abuse {
            clients,
            seconds,
            flood_port: Some(port),
            flood_cert: Some(cert),
            ..
        } => crate::bench_abuse::flood(clients, seconds, port, &cert),
        BenchCommand::Abuse {
            clients,
            seconds,
            idle_seconds,
            size,
            dir,
            same_priority,
            ..
        } => crate::bench_abuse::abuse(clients, seconds, idle_seconds, size, dir, same_priority),
        BenchCommand::Stats {
            recordings,
            entries,
            cameras,
            runs,
            dir,
            keep,
        } => crate::bench_stats::stats(recordings, entries, cameras, runs.max(2), dir, keep),
        BenchCommand::Search {
            rows,
            queries,
            database,
            dir,
        } => crate::bench_search::search(rows, queries, database, dir),
        BenchCommand::Playback {
            size,
            range,
            seconds,
            seeks,
            dir,
            storage,
        } => crate::bench_server::playback(size, range, seconds, seeks, dir, storage),
        BenchCommand::CameraPipeline {
            seconds,
            bitrate,
            dir,
        } => camera_pipeline(seconds, bitrate, dir),
        BenchCommand::PrerecordMemory {
            prerecord,
            camera: true,
            ..
        } => {
            println!("{}", camera_standby(prerecord)?);
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::PrerecordMemory {
            prerecord,
            bitrate,
            camera: false,
        } => prerecord_memory(prerecord, bitrate),
    }
}

/// Renders a synthetic clip with three boxes that cross the picture, and
/// reports the render's speed against the clip's own duration.
fn redact(width: usize, height: usize, fps: u32, seconds: u32) -> Result<ExitCode> {
    use custos_redact::{BoxKeyframe, BoxKind, Plan, Region, Track};
    eprintln!("making a {width}×{height} {fps} fps clip of {seconds} s …");
    let clip = custos_redact::synthetic_clip(width, height, fps, seconds)?;
    let end = u64::from(seconds) * 1000;
    let moving = |label: &str, y: f32| Track {
        label: label.into(),
        kind: BoxKind::Pixelate,
        keyframes: vec![
            BoxKeyframe {
                at_millis: 0,
                region: Region {
                    x: 0.0,
                    y,
                    w: 0.2,
                    h: 0.3,
                },
            },
            BoxKeyframe {
                at_millis: end,
                region: Region {
                    x: 0.8,
                    y,
                    w: 0.2,
                    h: 0.3,
                },
            },
        ],
    };
    let plan = Plan {
        tracks: vec![
            moving("person-1", 0.0),
            moving("person-2", 0.35),
            moving("plate", 0.7),
        ],
        mute: vec![],
    };
    let cpu0 = process_cpu_s()?;
    let started = std::time::Instant::now();
    let mut out = Vec::with_capacity(clip.len() * 2);
    let rendered = custos_redact::render(std::io::Cursor::new(&clip), &plan, &mut out)?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = process_cpu_s()? - cpu0;
    let realtime = rendered.duration_millis as f64 / 1000.0 / wall;
    println!(
        "{}",
        serde_json::json!({
            "width": width,
            "height": height,
            "fps": fps,
            "frames": rendered.frames,
            "video_seconds": rendered.duration_millis as f64 / 1000.0,
            "render_seconds": wall,
            "times_real_time": realtime,
            "frames_per_second": rendered.frames as f64 / wall,
            "cpu_cores": cpu / wall,
            "input_bytes": clip.len(),
            "output_bytes": rendered.bytes,
        })
    );
    Ok(ExitCode::SUCCESS)
}

fn faces(clip: &std::path::Path, count: usize) -> Result<ExitCode> {
    let bytes = std::fs::read(clip).with_context(|| {
        format!(
            "reading {} (run from the repository's root)",
            clip.display()
        )
    })?;
    let frames = custos_faces::read_pgms(&bytes).context("the clip is not PGM frames")?;
    let labels: serde_json::Value =
        serde_json::from_slice(&std::fs::read(clip.with_extension("json"))?)?;
    let mut detector = custos_faces::FaceDetector::new();
    // Precision and recall on the clip as it is.
    let (mut hits, mut proposed, mut labelled) = (0, 0, 0);
    for ((luma, w, h), truth) in frames
        .iter()
        .zip(labels["frames"].as_array().unwrap_or(&Vec::new()))
    {
        let truth: Vec<custos_faces::Face> = truth["faces"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|l| custos_faces::Face {
                        x: l["x"].as_f64().unwrap_or(0.0) as f32 / *w as f32,
                        y: l["y"].as_f64().unwrap_or(0.0) as f32 / *h as f32,
                        w: l["w"].as_f64().unwrap_or(0.0) as f32 / *w as f32,
                        h: l["h"].as_f64().unwrap_or(0.0) as f32 / *h as f32,
                        score: 0.0,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (t, p, l) = custos_faces::score(&detector.detect(luma, *w, *h), &truth, 0.3);
        hits += t;
        proposed += p;
        labelled += l;
    }
    // Speed on 1280×720: the clip's frames tiled.
    let (w, h) = (1280usize, 720usize);
    let tiled: Vec<Vec<u8>> = (0..count)
        .map(|n| {
            let mut out = vec![0u8; w * h];
            for y in 0..h {
                for x in 0..w {
                    let (luma, fw, fh) = &frames[(n + x / 480 + 3 * (y / 270)) % frames.len()];
                    out[y * w + x] = luma[(y % fh) * fw + x % fw];
                }
            }
            out
        })
        .collect();
    let cpu0 = process_cpu_s()?;
    let started = std::time::Instant::now();
    let mut found = 0;
    for frame in &tiled {
        found += detector.detect(frame, w, h).len();
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = process_cpu_s()? - cpu0;
    println!(
        "{}",
        serde_json::json!({
            "precision": hits as f64 / proposed.max(1) as f64,
            "recall": hits as f64 / labelled.max(1) as f64,
            "true_positives": hits,
            "proposals": proposed,
            "labelled_faces": labelled,
            "frames_1280x720": count,
            "frames_per_second": count as f64 / wall,
            "faces_found_per_frame": found as f64 / count as f64,
            "cpu_cores": cpu / wall,
        })
    );
    Ok(ExitCode::SUCCESS)
}

/// CPU time (user + system) of the whole process, all threads, in seconds.
fn process_cpu_s() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').context("parsing /proc/self/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // USER_HZ is 100 on every Linux architecture Custos targets.
    Ok(ticks as f64 / 100.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn rss_bytes() -> Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .context("statm")?;
    Ok(pages * 4096)
}

/// Incompressible stand-in for encoded video: xorshift bytes.
pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// 30 fps frames at `bitrate`, keyframe (3× a P-frame) every 30 frames, in AVCC form.
fn frames(seconds: u64, bitrate: u32, t0_us: i64) -> Vec<EncodedFrame> {
    let per_second = bitrate as usize / 8;
    let p = per_second / 32; // 29 P-frames + one keyframe of 3 P-frames = 32 units
    (0..seconds * 30)
        .map(|i| {
            let keyframe = i % 30 == 0;
            let len = if keyframe { 3 * p } else { p };
            // One IDR/non-IDR slice NAL with a 4-byte length prefix.
            let mut avcc = Vec::with_capacity(len);
            avcc.extend_from_slice(&((len - 4) as u32).to_be_bytes());
            avcc.push(if keyframe { 0x65 } else { 0x41 });
            avcc.extend_from_slice(&noise(len - 5, i + 1));
            EncodedFrame {
                avcc,
                keyframe,
                captured_at_us: t0_us + (i as i64 * 1_000_000) / 30,
            }
        })
        .collect()
}

fn camera_pipeline(
    seconds: u64,
    bitrate: u32,
    dir: Option<std::path::PathBuf>,
) -> Result<ExitCode> {
    let tmp = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
    let recipient_identity = age::x25519::Identity::generate();
    let recipient = recipient_identity.to_public();
    let t0_us = 1_795_424_400_000_000;
    let video = frames(seconds, bitrate, t0_us);
    let plaintext_bytes: usize = video.iter().map(|f| f.avcc.len()).sum();
    eprintln!(
        "{seconds} s of {:.1} Mbit/s video: {:.1} MB",
        bitrate as f64 / 1e6,
        plaintext_bytes as f64 / 1e6
    );

    // 1. The camera's recorder as it runs: mux, encrypt, hash, fsync per fragment, journal.
    let cam = CameraDir::new(tmp.path().join("cam"));
    let config = CameraConfig {
        device_id: "bench".into(),
        evidence_recipient: recipient.to_string(),
        officer_id: None,
        prerecord_seconds: 0,
        width: 1920,
        height: 1080,
        fps: 30,
        bitrate_bps: bitrate,
        storage_capacity_bytes: None,
        display_triggers_recording: false,
        simulated_gps: false,
        simulated_gps_start: None,
        server_receipt_key: None,
    };
    cam.init(&config)?;
    let key = SigningKey::generate();
    let avc = muxide::codec::h264::default_avc_config();
    let mut iter = video.iter().cloned();
    let cpu0 = process_cpu_s()?;
    let wall0 = Instant::now();
    let mut rec = ActiveRecording::start(
        &cam,
        &config,
        StartParams {
            trigger: Trigger::RecordButton,
            triggered_at_us: t0_us,
            first_frames: vec![iter.next().expect("frames")],
            avc: &avc,
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    for f in iter {
        rec.push(f).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let signed = rec.finish(StopReason::StopButton, &key)?;
    let pipeline_wall = wall0.elapsed().as_secs_f64();
    let pipeline_cpu = process_cpu_s()? - cpu0;
    let muxed = signed.manifest().plaintext.as_ref().map_or(0, |p| p.length);

    // 2. Encrypt+write alone on the muxed byte count, as `age -r` does it, and
    // 3. the age CLI on the same bytes; alternating rounds, each made durable
    // (fsync) so neither pays for the other's page-cache writeback.
    let blob = noise(muxed as usize, 42);
    let input = tmp.path().join("plain.bin");
    std::fs::write(&input, &blob)?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut ours_cpu = Vec::new();
    for round in 0..3 {
        let ours_out = tmp.path().join(format!("ours{round}.age"));
        let cpu1 = process_cpu_s()?;
        let wall1 = Instant::now();
        {
            let file =
                std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&ours_out)?);
            let mut w = RecordingWriter::new(file, &recipient)?;
            for chunk in blob.chunks(bitrate as usize / 8) {
                w.append(chunk)?;
            }
            let (file, _, _) = w.finish()?;
            file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        ours.push(wall1.elapsed().as_secs_f64());
        ours_cpu.push(process_cpu_s()? - cpu1);

        let age_out = tmp.path().join(format!("age{round}.age"));
        let wall2 = Instant::now();
        let status = Command::new("sh")
            .arg("-c")
            .arg(r#"age -r "$1" -o "$2" "$3" && sync "$2""#)
            .arg("sh")
            .arg(recipient.to_string())
            .arg(&age_out)
            .arg(&input)
            .status()
            .context("running the `age` CLI (install Debian's `age`)")?;
        theirs.push(wall2.elapsed().as_secs_f64());
        if !status.success() {
            bail!("age -r failed (is Debian's `age` installed?)");
        }
        std::fs::remove_file(&ours_out)?;
        std::fs::remove_file(&age_out)?;
    }
    let (ours_wall, age_wall, ours_cpu) = (median(ours), median(theirs), median(ours_cpu));

    let mb = muxed as f64 / 1e6;
    let ratio = (mb / ours_wall) / (mb / age_wall);
    let cpu_share = pipeline_cpu / seconds as f64 * 100.0;
    println!(
        "P1 camera pipeline ({seconds} s of 1080p30 at {:.1} Mbit/s, {mb:.1} MB muxed)",
        bitrate as f64 / 1e6
    );
    println!(
        "  encrypt+write (custos)     {:8.1} MB/s  ({ours_cpu:.2} s CPU, median of 3, fsynced)",
        mb / ours_wall
    );
    println!(
        "  encrypt+write (age -r)     {:8.1} MB/s  (median of 3, fsynced)",
        mb / age_wall
    );
    println!("  ratio custos / age         {ratio:8.2}x   (goal >= 1.0x)");
    println!("  full recorder path         {:8.1} MB/s  (mux + encrypt + SHA-256 + fsync per fragment + journal)", mb / pipeline_wall);
    println!(
        "  CPU per second of video    {:8.3} %  of one core (goal <= 2 %)",
        cpu_share
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "camera-pipeline", "seconds": seconds, "bitrate_bps": bitrate, "muxed_bytes": muxed,
            "custos_mb_s": mb / ours_wall, "age_mb_s": mb / age_wall, "ratio": ratio,
            "recorder_mb_s": mb / pipeline_wall, "recorder_cpu_s": pipeline_cpu, "cpu_percent_of_core": cpu_share,
        })
    );
    Ok(ExitCode::SUCCESS)
}

fn prerecord_memory(prerecord: u32, bitrate: u32) -> Result<ExitCode> {
    let window = prerecord as u64;
    // Standby for twice the window so the ring has filled and churned.
    let seconds = (2 * window).max(10);
    let t0_us = 1_795_424_400_000_000;
    let max_bytes = (bitrate as usize / 8) * (prerecord as usize + 1) * 2;
    let mut ring = PrerecordRing::new(prerecord, max_bytes);
    // Frames are made one at a time, as an encoder would, so only the ring holds video.
    let per_second = bitrate as usize / 8;
    let p = per_second / 32;
    let baseline = rss_bytes()?;
    let mut peak = baseline;
    let mut peak_ring = 0usize;
    for i in 0..seconds * 30 {
        let keyframe = i % 30 == 0;
        let len = if keyframe { 3 * p } else { p };
        let avcc = noise(len, i + 1);
        ring.push(EncodedFrame {
            avcc,
            keyframe,
            captured_at_us: t0_us + (i as i64 * 1_000_000) / 30,
        });
        if i % 15 == 0 {
            peak = peak.max(rss_bytes()?);
        }
        peak_ring = peak_ring.max(ring.bytes());
    }
    let growth = peak.saturating_sub(baseline);
    let budget = bitrate as f64 / 8.0 * window as f64;
    drop(ring);
    println!(
        "Pre-record memory ({prerecord} s at {:.1} Mbit/s, {seconds} s of standby)",
        bitrate as f64 / 1e6
    );
    println!("  bitrate x window           {:8.1} MB", budget / 1e6);
    println!(
        "  ring contents at peak      {:8.1} MB",
        peak_ring as f64 / 1e6
    );
    println!(
        "  RSS growth at peak         {:8.1} MB  = {:.2} x bitrate x window (goal <= 1.2)",
        growth as f64 / 1e6,
        growth as f64 / budget.max(1.0)
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "prerecord-memory", "prerecord_s": prerecord, "bitrate_bps": bitrate,
            "budget_bytes": budget, "ring_peak_bytes": peak_ring, "rss_growth_bytes": growth,
            "ratio": growth as f64 / budget.max(1.0),
        })
    );
    Ok(ExitCode::SUCCESS)
}

/// The whole camera on standby (synthetic 1280x720 source, real encoder):
/// RSS growth once the encoder is warm, against the stream's own bitrate.
fn camera_standby(prerecord: u32) -> Result<serde_json::Value> {
    use custos_camera::display::SimulatedDisplay;
    use custos_camera::source::{CaptureSource, Pacing, SyntheticSource};
    let tmp = tempfile::tempdir()?;
    let cam = CameraDir::new(tmp.path().join("cam"));
    let config = CameraConfig {
        device_id: "bench".into(),
        evidence_recipient: age::x25519::Identity::generate().to_public().to_string(),
        officer_id: None,
        prerecord_seconds: prerecord,
        width: 1280,
        height: 720,
        fps: 30,
        bitrate_bps: 8_000_000,
        storage_capacity_bytes: None,
        display_triggers_recording: false,
        simulated_gps: false,
        simulated_gps_start: None,
        server_receipt_key: None,
    };
    cam.init(&config)?;
    let mut camera =
        custos_camera::Camera::open(cam.clone(), SimulatedDisplay::default(), "bench".into())?;
    let mut source = SyntheticSource::new(
        1280,
        720,
        30,
        1_795_424_400_000_000,
        "bench",
        Pacing::AsFastAsPossible,
    )?;
    let total = (prerecord as u64 + 15) * 30;
    let mut baseline = 0;
    let mut peak = 0;
    let mut ring_bytes = 0;
    let mut ring_ms = 0;
    for i in 0..total {
        camera.on_frame(source.next_frame()?.context("synthetic source ended")?)?;
        if i == 60 {
            baseline = rss_bytes()?;
        }
        if i > 60 && i % 15 == 0 {
            peak = peak.max(rss_bytes()?);
            let status = camera.status()?;
            if status.prerecord_buffered_bytes > ring_bytes {
                ring_bytes = status.prerecord_buffered_bytes;
                ring_ms = status.prerecord_buffered_ms.max(1);
            }
        }
    }
    let stream_bps = ring_bytes as f64 * 8.0 / (ring_ms as f64 / 1000.0);
    let budget = stream_bps / 8.0 * prerecord as f64;
    let growth = peak.saturating_sub(baseline);
    println!("Pre-record memory, whole camera on standby ({prerecord} s, synthetic 1280x720, real encoder)");
    println!(
        "    stream bitrate           {:8.2} Mbit/s (the test pattern compresses well)",
        stream_bps / 1e6
    );
    println!(
        "    ring contents at peak    {:8.2} MB",
        ring_bytes as f64 / 1e6
    );
    println!(
        "    RSS growth (warm encoder){:8.2} MB  = {:.2} x bitrate x window",
        growth as f64 / 1e6,
        growth as f64 / budget.max(1.0)
    );
    Ok(
        serde_json::json!({"stream_bps": stream_bps, "ring_bytes": ring_bytes, "rss_growth_bytes": growth, "ratio": growth as f64 / budget.max(1.0)}),
    )
}
