//! A member's permissions, computed as Discord computes them: guild-wide from `@everyone`,
//! the member's roles, Administrator and ownership; in a channel, after its overwrites.

use serenity::model::{
    Permissions,
    channel::{PermissionOverwrite, PermissionOverwriteType},
};

/// A member's guild-wide permissions, as Discord computes them: the owner has all; otherwise
/// `@everyone`'s (the role whose ID is the guild's) and every role of the member's, OR-ed;
/// Administrator grants all.
pub fn base_permissions(
    guild: u64,
    owner: u64,
    user: u64,
    roles: &[(u64, Permissions)],
    member_roles: &[u64],
) -> Permissions {
    if owner == user {
        return Permissions::all();
    }
    let mut perms = Permissions::empty();
    for (id, role) in roles {
        if *id == guild || member_roles.contains(id) {
            perms |= *role;
        }
    }
    if perms.administrator() {
        return Permissions::all();
    }
    perms
}

/// A member's permissions in a channel, as Discord computes them from the guild-wide ones:
/// Administrator keeps all; then the channel's `@everyone` overwrite, then its overwrites for
/// the member's roles (all their denies, then all their allows), then the member's own.
pub fn channel_permissions(
    base: Permissions,
    guild: u64,
    user: u64,
    member_roles: &[u64],
    overwrites: &[PermissionOverwrite],
) -> Permissions {
    if base.administrator() {
        return Permissions::all();
    }
    let mut perms = base;
    let apply = |perms: &mut Permissions, allow: Permissions, deny: Permissions| {
        *perms &= !deny;
        *perms |= allow;
    };
    for o in overwrites {
        if matches!(o.kind, PermissionOverwriteType::Role(r) if r.get() == guild) {
            apply(&mut perms, o.allow, o.deny);
        }
    }
    let (mut allow, mut deny) = (Permissions::empty(), Permissions::empty());
    for o in overwrites {
        if let PermissionOverwriteType::Role(r) = o.kind {
            if r.get() != guild && member_roles.contains(&r.get()) {
                allow |= o.allow;
                deny |= o.deny;
            }
        }
    }
    apply(&mut perms, allow, deny);
    for o in overwrites {
        if matches!(o.kind, PermissionOverwriteType::Member(u) if u.get() == user) {
            apply(&mut perms, o.allow, o.deny);
        }
    }
    perms
}

#[cfg(test)]
mod tests {
    use serenity::model::id::{RoleId, UserId};

    use super::*;
    use crate::preflight::IN_CHANNEL;

    const GUILD: u64 = 100;
    const BOT: u64 = 7;

    fn overwrite(
        kind: PermissionOverwriteType,
        allow: Permissions,
        deny: Permissions,
    ) -> PermissionOverwrite {
        PermissionOverwrite { allow, deny, kind }
    }

    #[test]
    fn base_permissions_follow_discord() {
        let everyone = (
            GUILD,
            Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES,
        );
        let hooks = (5, Permissions::MANAGE_WEBHOOKS);
        let admin = (6, Permissions::ADMINISTRATOR);
        let roles = [everyone, hooks, admin];
        // @everyone applies to every member; roles add to it; other roles do not count.
        let p = base_permissions(GUILD, 1, BOT, &roles, &[5]);
        assert_eq!(
            p,
            Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES | Permissions::MANAGE_WEBHOOKS
        );
        assert!(!p.manage_channels());
        // Administrator grants all; the owner has all whatever the roles.
        assert_eq!(
            base_permissions(GUILD, 1, BOT, &roles, &[6]),
            Permissions::all()
        );
        assert_eq!(
            base_permissions(GUILD, BOT, BOT, &[], &[]),
            Permissions::all()
        );
        // No roles at all: nothing.
        assert_eq!(
            base_permissions(GUILD, 1, BOT, &[], &[5]),
            Permissions::empty()
        );
    }

    #[test]
    fn channel_overwrites_apply_everyone_then_roles_then_member() {
        let base = IN_CHANNEL;
        let everyone_deny = overwrite(
            PermissionOverwriteType::Role(RoleId::new(GUILD)),
            Permissions::empty(),
            Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES,
        );
        let p = channel_permissions(base, GUILD, BOT, &[5], std::slice::from_ref(&everyone_deny));
        assert_eq!(
            IN_CHANNEL - p,
            Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES
        );
        // A role's allow wins over @everyone's deny; another role's deny does not win over it
        // (all role denies first, then all role allows).
        let role_allow = overwrite(
            PermissionOverwriteType::Role(RoleId::new(5)),
            Permissions::VIEW_CHANNEL,
            Permissions::empty(),
        );
        let other_deny = overwrite(
            PermissionOverwriteType::Role(RoleId::new(6)),
            Permissions::empty(),
            Permissions::VIEW_CHANNEL,
        );
        let all = [everyone_deny.clone(), role_allow, other_deny];
        let p = channel_permissions(base, GUILD, BOT, &[5, 6], &all);
        assert!(p.view_channel());
        assert!(!p.send_messages());
        // The member's own overwrite comes last.
        let member = overwrite(
            PermissionOverwriteType::Member(UserId::new(BOT)),
            Permissions::SEND_MESSAGES,
            Permissions::empty(),
        );
        let p = channel_permissions(base, GUILD, BOT, &[], &[everyone_deny.clone(), member]);
        assert!(p.send_messages() && !p.view_channel());
        // Administrators are not bound by overwrites.
        let p = channel_permissions(Permissions::all(), GUILD, BOT, &[], &[everyone_deny]);
        assert_eq!(p, Permissions::all());
    }
}
