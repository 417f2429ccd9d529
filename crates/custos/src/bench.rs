use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// P1: encrypt+write throughput of the camera pipeline vs `age -r`, and CPU per second of video.
    CameraPipeline,
}

pub fn run(_command: BenchCommand) -> Result<ExitCode> {
    anyhow::bail!("not yet")
}
