//! `--profile NAME|FILE`: a built-in profile by name, or a file of points
//! read when the workload is built, so that a bad file is the command's
//! error (exit 2) naming the file, line and field.

use crate::engine::{Profile, parse_profile};
use anyhow::Context;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Clone, Debug)]
pub enum ProfileArg {
    Builtin(Profile),
    File(PathBuf),
}

impl FromStr for ProfileArg {
    type Err = std::convert::Infallible;
    /// A built-in name, else a path (`./week` is the file named week).
    fn from_str(text: &str) -> Result<ProfileArg, Self::Err> {
        Ok(match text {
            // A diurnal curve is a working day's: the shape of the business
            // calls Call Automation mostly carries.
            "diurnal" | "weekday" => ProfileArg::Builtin(Profile::Weekday),
            "weekend" => ProfileArg::Builtin(Profile::Weekend),
            "week" => ProfileArg::Builtin(Profile::Week),
            path => ProfileArg::File(PathBuf::from(path)),
        })
    }
}

impl ProfileArg {
    pub fn read(&self) -> anyhow::Result<Profile> {
        match self {
            ProfileArg::Builtin(profile) => Ok(profile.clone()),
            ProfileArg::File(path) => {
                let bytes = std::fs::read(path).with_context(|| {
                    format!(
                        "--profile {}: not diurnal, weekday, weekend or week, and not a file \
                         that can be read",
                        path.display()
                    )
                })?;
                Ok(parse_profile(path, &bytes)?)
            }
        }
    }
}
