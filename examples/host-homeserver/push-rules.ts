/**
 * The client-server spec's predefined ("server-default") push rules for a
 * user, as `GET /pushrules/` answers them before the user changes anything
 * (spec section "Push Notifications", "Predefined Rules", up to v1.11).
 * In evaluation order within each kind.
 */
type Action = string | { set_tweak: string; value?: unknown };
type Condition = Record<string, unknown>;

interface PushRule {
  rule_id: string;
  default: true;
  enabled: boolean;
  actions: Action[];
  conditions?: Condition[];
  pattern?: string;
}

const SOUND_DEFAULT: Action = { set_tweak: 'sound', value: 'default' };
const HIGHLIGHT: Action = { set_tweak: 'highlight' };
const eventMatch = (key: string, pattern: string): Condition => ({ kind: 'event_match', key, pattern });
const rule = (rule_id: string, conditions: Condition[], actions: Action[], enabled = true): PushRule => ({
  rule_id,
  default: true,
  enabled,
  conditions,
  actions,
});

export function defaultPushRules(userId: string) {
  const localpart = userId.slice(1, userId.indexOf(':'));
  return {
    global: {
      override: [
        rule('.m.rule.master', [], [], false),
        rule('.m.rule.suppress_notices', [eventMatch('content.msgtype', 'm.notice')], []),
        rule(
          '.m.rule.invite_for_me',
          [eventMatch('type', 'm.room.member'), eventMatch('content.membership', 'invite'), eventMatch('state_key', userId)],
          ['notify', SOUND_DEFAULT],
        ),
        rule('.m.rule.member_event', [eventMatch('type', 'm.room.member')], []),
        rule(
          '.m.rule.is_user_mention',
          [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: userId }],
          ['notify', SOUND_DEFAULT, HIGHLIGHT],
        ),
        rule('.m.rule.contains_display_name', [{ kind: 'contains_display_name' }], ['notify', SOUND_DEFAULT, HIGHLIGHT]),
        rule(
          '.m.rule.is_room_mention',
          [
            { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
            { kind: 'sender_notification_permission', key: 'room' },
          ],
          ['notify', HIGHLIGHT],
        ),
        rule(
          '.m.rule.roomnotif',
          [eventMatch('content.body', '@room'), { kind: 'sender_notification_permission', key: 'room' }],
          ['notify', HIGHLIGHT],
        ),
        rule('.m.rule.tombstone', [eventMatch('type', 'm.room.tombstone'), eventMatch('state_key', '')], ['notify', HIGHLIGHT]),
        rule('.m.rule.reaction', [eventMatch('type', 'm.reaction')], []),
        rule('.m.rule.room.server_acl', [eventMatch('type', 'm.room.server_acl'), eventMatch('state_key', '')], []),
        rule('.m.rule.suppress_edits', [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }], []),
      ],
      content: [
        {
          rule_id: '.m.rule.contains_user_name',
          default: true,
          enabled: true,
          pattern: localpart,
          actions: ['notify', SOUND_DEFAULT, HIGHLIGHT],
        } satisfies PushRule,
      ],
      room: [] as PushRule[],
      sender: [] as PushRule[],
      underride: [
        rule('.m.rule.call', [eventMatch('type', 'm.call.invite')], ['notify', { set_tweak: 'sound', value: 'ring' }]),
        rule(
          '.m.rule.encrypted_room_one_to_one',
          [{ kind: 'room_member_count', is: '2' }, eventMatch('type', 'm.room.encrypted')],
          ['notify', SOUND_DEFAULT],
        ),
        rule('.m.rule.room_one_to_one', [{ kind: 'room_member_count', is: '2' }, eventMatch('type', 'm.room.message')], [
          'notify',
          SOUND_DEFAULT,
        ]),
        rule('.m.rule.message', [eventMatch('type', 'm.room.message')], ['notify']),
        rule('.m.rule.encrypted', [eventMatch('type', 'm.room.encrypted')], ['notify']),
      ],
    },
  };
}
