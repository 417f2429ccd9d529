//! Who may do what: the one place where Custos decides. Handlers never
//! compare roles themselves; they ask [`decide`] with the [`Action`] they are
//! about to perform, and the authorisation-matrix test checks every endpoint
//! against this table.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// An enforcement officer: metadata of their own recordings; playback of
    /// their own only where the deployment allows self-review.
    Officer,
    /// Reviews footage for a case, places holds.
    Reviewer,
    /// The privacy officer (FG/DPO): supervises, handles subject access requests.
    PrivacyOfficer,
    /// Users, devices and policy — never footage.
    Admin,
    /// Reads the audit log and statistics; changes nothing.
    Auditor,
    /// Evaluates a pilot for the council: the statistics and nothing else.
    Evaluator,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Self::Officer,
        Self::Reviewer,
        Self::PrivacyOfficer,
        Self::Admin,
        Self::Auditor,
        Self::Evaluator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Officer => "officer",
            Self::Reviewer => "reviewer",
            Self::PrivacyOfficer => "privacy-officer",
            Self::Admin => "admin",
            Self::Auditor => "auditor",
            Self::Evaluator => "evaluator",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Everything a person can ask the server to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// See recordings' metadata (who, when, which camera, size, delete-after).
    ListRecordings,
    /// Play or download footage, or anything derived from it.
    AccessFootage,
    ListIncidents,
    /// Entries, checkpoints and proofs of the audit log.
    ReadAudit,
    ListUsers,
    ManageUsers,
    ListDevices,
    ManageDevices,
    /// Open, read and close cases.
    ManageCases,
    /// Place a hold on a recording for a case.
    PlaceHold,
    /// The second pair of eyes on a hold, where the deployment asks for one.
    ApproveHold,
    /// Move a recording to another retention category (a new deadline).
    SetRetention,
    /// One recording's audit trail: who touched it, when and why.
    ReadRecordingTrail,
    /// See the deployment's retention periods and purpose list as configured.
    ReadSettings,
    /// Change the retention periods and the purpose list.
    ManageSettings,
    /// Make an evidence export package of a case's recordings (decrypted
    /// footage leaves the server, encrypted to its recipient).
    ExportFootage,
    /// Take in a data subject's access request (who asked, how their
    /// identity was checked), extend its deadline, search for their footage.
    HandleSubjectRequests,
    /// The evaluation statistics: aggregates only, small counts suppressed.
    ReadStatistics,
    /// The second person on an account that can see footage: approve (or
    /// refuse) its creation or the reset of its credentials, which then
    /// reach the person only by a one-time activation link.
    ApproveAccounts,
}

impl Action {
    pub const ALL: [Action; 19] = [
        Self::ListRecordings,
        Self::AccessFootage,
        Self::ListIncidents,
        Self::ReadAudit,
        Self::ListUsers,
        Self::ManageUsers,
        Self::ListDevices,
        Self::ManageDevices,
        Self::ManageCases,
        Self::PlaceHold,
        Self::ApproveHold,
        Self::SetRetention,
        Self::ReadRecordingTrail,
        Self::ReadSettings,
        Self::ManageSettings,
        Self::ExportFootage,
        Self::HandleSubjectRequests,
        Self::ReadStatistics,
        Self::ApproveAccounts,
    ];

    /// Footage and what is derived from it needs a purpose and a case.
    pub fn needs_purpose(self) -> bool {
        matches!(self, Self::AccessFootage | Self::ExportFootage)
    }
}

/// The purposes footage may be used for unless a deployment says otherwise.
pub const DEFAULT_PURPOSES: [&str; 3] = ["investigation", "complaint", "subject-access-request"];

/// What the deployment's policy says beyond the fixed table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Officers may play back their own recordings.
    pub officer_self_review: bool,
    /// The closed list of purposes an access to footage may state.
    pub purposes: Vec<String>,
    /// A hold takes effect only once a second person approved it (NRW asks
    /// for a superior's approval).
    pub hold_needs_second_approver: bool,
    /// An export is made only once a second person approved the request
    /// (what leaves, for whom and why), as a deployment may ask.
    pub export_needs_second_approver: bool,
    /// After a hold is released the recording stays at least this long.
    pub hold_release_grace_millis: i64,
    /// The longest a download link for an export may stay valid.
    pub export_link_max_millis: i64,
    /// The statistics hide counts from 1 to this minus one (k-anonymity).
    pub statistics_min_count: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            officer_self_review: false,
            purposes: DEFAULT_PURPOSES.iter().map(|p| p.to_string()).collect(),
            hold_needs_second_approver: false,
            export_needs_second_approver: false,
            hold_release_grace_millis: 7 * 86_400_000,
            export_link_max_millis: 7 * 86_400_000,
            statistics_min_count: 5,
        }
    }
}

impl Policy {
    pub fn allows_purpose(&self, purpose: &str) -> bool {
        self.purposes.iter().any(|p| p == purpose)
    }
}

/// Which recordings a permitted action may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Only recordings made by this officer.
    OwnRecordings,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Denied;

/// The whole table. `Ok(scope)` says what the role may touch.
pub fn decide(role: Role, action: Action, policy: &Policy) -> Result<Scope, Denied> {
    use Action::*;
    use Role::*;
    match (role, action) {
        (Officer, ListRecordings) => Ok(Scope::OwnRecordings),
        (Officer, AccessFootage) if policy.officer_self_review => Ok(Scope::OwnRecordings),
        (Reviewer | PrivacyOfficer, ListRecordings | AccessFootage) => Ok(Scope::All),
        (PrivacyOfficer | Auditor | Admin, ListIncidents) => Ok(Scope::All),
        (PrivacyOfficer | Auditor, ReadAudit) => Ok(Scope::All),
        (Admin | PrivacyOfficer, ListUsers) => Ok(Scope::All),
        (Admin, ManageUsers | ListDevices | ManageDevices) => Ok(Scope::All),
        (Reviewer | PrivacyOfficer, ManageCases | PlaceHold | ApproveHold) => Ok(Scope::All),
        // How long personal data is kept is the privacy officer's call.
        (PrivacyOfficer, SetRetention) => Ok(Scope::All),
        // Reviewers see who else looked at what they review: accountability
        // among the few. An officer does not learn who reviewed them.
        (Reviewer | PrivacyOfficer | Auditor, ReadRecordingTrail) => Ok(Scope::All),
        // Policy is the admin's to set; those who supervise it see it.
        (Admin | PrivacyOfficer | Auditor, ReadSettings) => Ok(Scope::All),
        (Admin, ManageSettings) => Ok(Scope::All),
        // Those who may see footage for a case may hand it on for that case.
        (Reviewer | PrivacyOfficer, ExportFootage) => Ok(Scope::All),
        // Requesters' identities and requests are the privacy officer's (GDPR art. 38–39).
        (PrivacyOfficer, HandleSubjectRequests) => Ok(Scope::All),
        // Aggregates with small counts suppressed; an officer sees their
        // own numbers (unsuppressed: they are theirs).
        (PrivacyOfficer | Auditor | Evaluator, ReadStatistics) => Ok(Scope::All),
        (Officer, ReadStatistics) => Ok(Scope::OwnRecordings),
        // Separation of duties: the admin manages accounts, but one that can
        // see footage needs the privacy officer too (see `sees_footage`).
        (PrivacyOfficer, ApproveAccounts) => Ok(Scope::All),
        _ => Err(Denied),
    }
}

/// Whether an account of this role can see footage under this policy:
/// such an account is created, or its credentials reset, only with a second
/// person's approval, and its credentials never pass through the admin.
pub fn sees_footage(role: Role, policy: &Policy) -> bool {
    decide(role, Action::AccessFootage, policy).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_never_sees_footage_and_auditor_changes_nothing() {
        for policy in [
            Policy::default(),
            Policy {
                officer_self_review: true,
                ..Policy::default()
            },
        ] {
            assert_eq!(
                decide(Role::Admin, Action::AccessFootage, &policy),
                Err(Denied)
            );
            assert_eq!(
                decide(Role::Admin, Action::ListRecordings, &policy),
                Err(Denied)
            );
            for a in [
                Action::ManageUsers,
                Action::ManageDevices,
                Action::AccessFootage,
                Action::PlaceHold,
                Action::ManageCases,
            ] {
                assert_eq!(decide(Role::Auditor, a, &policy), Err(Denied));
            }
        }
    }

    #[test]
    fn officer_self_review_is_the_deployments_choice_and_own_only() {
        let off = Policy::default();
        let on = Policy {
            officer_self_review: true,
            ..Policy::default()
        };
        assert_eq!(
            decide(Role::Officer, Action::AccessFootage, &off),
            Err(Denied)
        );
        assert_eq!(
            decide(Role::Officer, Action::AccessFootage, &on),
            Ok(Scope::OwnRecordings)
        );
        assert_eq!(
            decide(Role::Officer, Action::ListRecordings, &off),
            Ok(Scope::OwnRecordings)
        );
    }

    #[test]
    fn an_evaluator_sees_the_statistics_and_nothing_else() {
        let policy = Policy::default();
        for a in Action::ALL {
            let wanted = if a == Action::ReadStatistics {
                Ok(Scope::All)
            } else {
                Err(Denied)
            };
            assert_eq!(decide(Role::Evaluator, a, &policy), wanted, "{a:?}");
        }
        assert_eq!(
            decide(Role::Officer, Action::ReadStatistics, &policy),
            Ok(Scope::OwnRecordings)
        );
        for r in [Role::Admin, Role::Reviewer] {
            assert_eq!(decide(r, Action::ReadStatistics, &policy), Err(Denied));
        }
    }

    #[test]
    fn only_the_privacy_officer_approves_accounts_that_see_footage() {
        let off = Policy::default();
        let on = Policy {
            officer_self_review: true,
            ..Policy::default()
        };
        for r in Role::ALL {
            let wanted = if r == Role::PrivacyOfficer {
                Ok(Scope::All)
            } else {
                Err(Denied)
            };
            assert_eq!(decide(r, Action::ApproveAccounts, &off), wanted, "{r:?}");
        }
        assert!(sees_footage(Role::Reviewer, &off) && sees_footage(Role::PrivacyOfficer, &off));
        for r in [Role::Admin, Role::Auditor, Role::Evaluator, Role::Officer] {
            assert!(!sees_footage(r, &off), "{r:?}");
        }
        assert!(
            sees_footage(Role::Officer, &on),
            "self-review: officers see footage"
        );
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
