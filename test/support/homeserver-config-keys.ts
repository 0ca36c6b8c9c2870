/**
 * The keys each homeserver really reads from its own configuration file, so
 * that a homeserver-config block with a misspelt key (which the homeserver
 * would ignore without a word) fails the docs check.
 *
 * Synapse 1.67: every top-level key its config classes (synapse/config/*.py)
 * read with `config.get("…")` / `config["…"]`, as of 1.67.0's source; below
 * them, only the keys the blocks here use are listed. Under
 * `account_threepid_delegates`, 1.67 reads `msisdn` and refuses `email`.
 *
 * Dendrite: the keys its documented config structure has for what the
 * blocks set up, `global.trusted_third_party_id_servers`.
 */
export type KeyTree = { readonly [key: string]: KeyTree | 'any' };

const SYNAPSE_1_67_TOP_LEVEL = [
  'account_threepid_delegates', 'account_validity', 'admin_contact', 'alias_creation_rules',
  'allow_device_name_lookup_over_federation', 'allow_guest_access', 'allow_per_room_profiles',
  'allow_profile_lookup_over_federation', 'allow_public_rooms_over_federation', 'allow_public_rooms_without_auth',
  'allowed_avatar_mimetypes', 'allowed_local_3pids', 'app_service_config_files', 'auto_join_mxid_localpart',
  'auto_join_rooms', 'auto_join_rooms_for_guests', 'autocreate_auto_join_room_preset', 'autocreate_auto_join_rooms',
  'autocreate_auto_join_rooms_federated', 'background_updates', 'backup_media_store_path', 'bcrypt_rounds',
  'bind_host', 'bind_port', 'block_non_admin_invites', 'caches', 'cas_config',
  'cleanup_extremities_with_dummy_events', 'daemonize', 'database', 'database_path', 'databases',
  'default_identity_server', 'default_power_level_content_override', 'default_room_version',
  'delete_stale_devices_after', 'disable_msisdn_registration', 'disable_registration', 'dummy_events_threshold',
  'dynamic_thumbnails', 'email', 'enable_3pid_changes', 'enable_3pid_lookup', 'enable_ephemeral_messages',
  'enable_group_creation', 'enable_legacy_metrics', 'enable_media_repo', 'enable_metrics', 'enable_registration',
  'enable_registration_captcha', 'enable_registration_token_3pid_bypass', 'enable_registration_without_verification',
  'enable_room_list_search', 'enable_search', 'enable_set_avatar_url', 'enable_set_displayname',
  'encryption_enabled_by_default_for_room_type', 'event_cache_size', 'exclude_rooms_from_sync',
  'experimental_features', 'extra_well_known_client_content', 'federation_certificate_verification_whitelist',
  'federation_client_minimum_tls_version', 'federation_custom_ca_list', 'federation_domain_whitelist',
  'federation_ip_range_blacklist', 'federation_metrics_domains', 'federation_rc_concurrent',
  'federation_rc_reject_limit', 'federation_rc_sleep_delay', 'federation_rc_sleep_limit',
  'federation_rc_window_size', 'federation_rr_transactions_per_room_per_second', 'federation_sender_instances',
  'federation_verify_certificates', 'filter_timeline_limit', 'form_secret', 'gc_min_interval', 'gc_thresholds',
  'group_creation_prefix', 'gzip_responses', 'hs_disabled', 'hs_disabled_message', 'include_profile_data_on_invite',
  'inhibit_user_in_use_error', 'instance_map', 'invite_3pid_guest', 'ip_range_blacklist', 'ip_range_whitelist',
  'jwt_config', 'key_refresh_interval', 'key_server_signing_keys_path', 'ldap_config',
  'limit_profile_requests_to_users_who_share_rooms', 'limit_remote_rooms', 'limit_usage_by_mau', 'listeners',
  'log_config', 'log_file', 'macaroon_secret_key', 'manhole', 'manhole_settings', 'mau_appservice_trial_days',
  'mau_limit_alerting', 'mau_limit_reserved_threepids', 'mau_stats_only', 'mau_trial_days', 'max_avatar_size',
  'max_image_pixels', 'max_mau_value', 'max_spider_size', 'max_upload_size',
  'media_instance_running_background_jobs', 'media_retention', 'media_storage_providers', 'media_store_path',
  'metrics_bind_host', 'metrics_flags', 'metrics_port', 'modules', 'next_link_domain_whitelist', 'no_redirect_stdio',
  'no_tls', 'nonrefreshable_access_token_lifetime', 'oembed', 'oidc_config', 'oidc_providers', 'old_signing_keys',
  'opentracing', 'password_config', 'password_providers', 'perspectives', 'pid_file', 'presence', 'print_pidfile',
  'public_baseurl', 'push', 'pusher_instances', 'rc_3pid_validation', 'rc_admin_redaction', 'rc_federation',
  'rc_invites', 'rc_joins', 'rc_joins_per_room', 'rc_key_requests', 'rc_login', 'rc_message',
  'rc_message_burst_count', 'rc_messages_per_second', 'rc_registration', 'rc_registration_token_validity',
  'rc_third_party_invite', 'recaptcha_private_key', 'recaptcha_public_key', 'recaptcha_siteverify_api',
  'redaction_retention_period', 'redis', 'refresh_token_lifetime', 'refreshable_access_token_lifetime',
  'registration_requires_token', 'registration_shared_secret', 'registration_shared_secret_path',
  'registrations_require_3pid', 'replication_torture_level', 'report_stats', 'report_stats_endpoint',
  'request_token_inhibit_3pid_errors', 'require_auth_for_profile_requests', 'require_membership_for_aliases',
  'restrict_public_rooms_to_local_users', 'retention', 'room_invite_state_types', 'room_list_publication_rules',
  'room_prejoin_state', 'run_background_tasks_on', 'saml2_config', 'send_federation', 'sentry',
  'serve_server_wellknown', 'server_context', 'server_name', 'server_notices', 'session_lifetime', 'signing_key',
  'signing_key_path', 'soft_file_limit', 'spam_checker', 'sso', 'start_pushers', 'stats', 'stream_writers',
  'suppress_key_server_warning', 'synchronous_backup_media_store', 'templates', 'third_party_event_rules',
  'thumbnail_sizes', 'tls_certificate_path', 'tls_private_key_path', 'track_appservice_user_ips',
  'track_puppeted_user_ips', 'trust_identity_server_for_password_resets', 'trusted_key_servers', 'turn_allow_guests',
  'turn_password', 'turn_shared_secret', 'turn_uris', 'turn_user_lifetime', 'turn_username', 'ui_auth',
  'unsecure_port', 'url_preview_accept_language', 'url_preview_enabled', 'url_preview_ip_range_blacklist',
  'url_preview_ip_range_whitelist', 'url_preview_url_blacklist', 'use_account_validity_in_account_status',
  'use_frozen_dicts', 'use_insecure_ssl_client_just_for_testing_do_not_use', 'use_presence', 'user_agent_suffix',
  'user_consent', 'user_directory', 'user_ips_max_age', 'web_client_location', 'worker_app', 'worker_daemonize',
  'worker_listeners', 'worker_log_config', 'worker_main_http_uri', 'worker_manhole', 'worker_name',
  'worker_pid_file', 'worker_replication_host', 'worker_replication_http_port', 'worker_replication_port',
  'worker_replication_secret',
];

export const HOMESERVER_CONFIG_KEYS: Readonly<Record<'synapse' | 'dendrite', KeyTree>> = {
  synapse: {
    ...Object.fromEntries(SYNAPSE_1_67_TOP_LEVEL.map((key) => [key, 'any' as const])),
    account_threepid_delegates: { msisdn: 'any' },
  },
  dendrite: { global: { trusted_third_party_id_servers: 'any' } },
};

/** The keys of `value` that `tree` has not, each as its dotted path. */
export function unknownKeys(value: unknown, tree: KeyTree, at = ''): string[] {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, inner]) => {
    const path = at ? `${at}.${key}` : key;
    const known = Object.hasOwn(tree, key) ? tree[key] : undefined;
    if (known === undefined) return [path];
    return known === 'any' ? [] : unknownKeys(inner, known, path);
  });
}
