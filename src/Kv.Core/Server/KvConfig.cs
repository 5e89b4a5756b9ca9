using System.Globalization;
using System.Text;

namespace Kv.Server;

/// <summary>Raised for an unknown option or a value that does not parse; the message names the option.</summary>
public sealed class ConfigException(string message) : Exception(message);

/// <summary>Kinds of configuration values, as the typeData families of config.c.</summary>
public enum ConfigKind
{
    /// <summary>yes/no.</summary>
    Bool,
    /// <summary>Integer (with bounds).</summary>
    Int,
    /// <summary>Memory size: bytes with optional k/kb/m/mb/g/gb suffix; CONFIG GET prints plain bytes.</summary>
    Memory,
    /// <summary>Free text.</summary>
    String,
    /// <summary>One of a fixed word list.</summary>
    Enum,
    /// <summary>Special parser (save, client-output-buffer-limit, replicaof, bind).</summary>
    Special,
}

/// <summary>One configuration parameter: its redis.conf name, aliases, kind, default and current value.</summary>
public sealed class ConfigParam
{
    /// <summary>Canonical name (redis.conf key).</summary>
    public required string Name { get; init; }
    /// <summary>Alias (e.g. slave-read-only for replica-read-only).</summary>
    public string? Alias { get; init; }
    /// <summary>Value kind.</summary>
    public required ConfigKind Kind { get; init; }
    /// <summary>Default as text (redis.conf syntax).</summary>
    public required string Default { get; init; }
    /// <summary>Lower bound for Int/Memory.</summary>
    public long Min { get; init; } = long.MinValue;
    /// <summary>Upper bound for Int/Memory.</summary>
    public long Max { get; init; } = long.MaxValue;
    /// <summary>Allowed words for Enum.</summary>
    public string[]? Words { get; init; }
    /// <summary>True when CONFIG SET may not change it at runtime.</summary>
    public bool Immutable { get; set; }
    /// <summary>
    /// PROTECTED_CONFIG (dir, dbfilename): CONFIG SET refuses it with "can't set protected config" unless
    /// enable-protected-configs allows it.
    /// </summary>
    public bool Protected { get; init; }
    /// <summary>True for values hidden from CONFIG REWRITE when equal to default.</summary>
    public bool Sensitive { get; init; }
    /// <summary>Current value in canonical text (what CONFIG GET prints).</summary>
    public string Value { get; internal set; } = "";

    /// <summary>
    /// The value as CONFIG GET and CONFIG REWRITE show it, when redis prints something else than what it keeps
    /// (notify-keyspace-events: keyspaceEventsFlagsToString drops 'n' after 'A' while the flag stays set).
    /// </summary>
    public string Shown => Display is null ? Value : Display(Value);

    /// <summary>Formats <see cref="Value"/> for <see cref="Shown"/>, or null when shown as kept.</summary>
    public Func<string, string>? Display { get; init; }
    /// <summary>Parsed number for Int/Memory/Bool (1/0).</summary>
    public long Number { get; internal set; }
    /// <summary>Optional clamp applied after the range check (hz: updateHZ keeps 1..500 whatever was set).</summary>
    public (long Min, long Max)? Clamp { get; set; }
    /// <summary>Called after a successful change (the apply callback of config.c).</summary>
    public Action<ConfigParam>? OnChange { get; set; }
    /// <summary>Special validation/normalisation for <see cref="ConfigKind.Special"/>; returns the canonical text or throws ConfigException.</summary>
    public Func<string[], string>? Parse { get; init; }
    /// <summary>
    /// For a yes/no parameter whose "yes" kv does not implement: the error text given instead of accepting it, so a
    /// setting that would silently do nothing (and lose data a user counted on) is refused (file, command line,
    /// CONFIG SET).
    /// </summary>
    public string? YesUnsupported { get; init; }
    /// <summary>Set when the value was changed from its default by file, command line or CONFIG SET.</summary>
    public bool Changed { get; internal set; }
}

/// <summary>
/// The server configuration: every supported redis.conf directive, parsed from a config file plus
/// "--name value" command-line overrides as redis-server does (config.c loadServerConfigFromString), and changed
/// at runtime by CONFIG SET. Unknown or malformed options raise <see cref="ConfigException"/> with redis's wording.
/// </summary>
public sealed class KvConfig
{
    private readonly Dictionary<string, ConfigParam> _params = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<ConfigParam> _ordered = [];

    /// <summary>Path of the config file loaded at start (CONFIG REWRITE target), or null.</summary>
    public string? ConfigFile { get; private set; }

    /// <summary>Creates a configuration with every parameter at its 7.0.15 default.</summary>
    public KvConfig()
    {
        Int("port", 6379, 0, 65535, immutableInRuntime: false);
        Special("bind", "* -::*", a => string.Join(' ', a));
        Add(new ConfigParam { Name = "dir", Kind = ConfigKind.Special, Default = ".", Protected = true, Parse = ParseDir });
        Add(new ConfigParam { Name = "dbfilename", Kind = ConfigKind.String, Default = "dump.rdb", Protected = true });
        Special("save", "3600 1 300 100 60 10000", ParseSave);
        Str("requirepass", "", sensitive: true);
        Int("databases", 16, 1, int.MaxValue, immutable: true);
        Int("maxclients", 10000, 1, uint.MaxValue);
        Int("timeout", 0, 0, int.MaxValue);
        Enum("loglevel", "notice", "debug", "verbose", "notice", "warning");
        Str("logfile", "", immutable: true);
        Mem("proto-max-bulk-len", 512L * 1024 * 1024, 1024 * 1024, long.MaxValue);
        Mem("client-query-buffer-limit", 1024L * 1024 * 1024, 1024 * 1024, long.MaxValue);
        Int("hz", 10, 0, int.MaxValue).Clamp = (1, 500); // updateHZ clamps to CONFIG_MIN_HZ..CONFIG_MAX_HZ
        Add(new ConfigParam
        {
            Name = "daemonize", Kind = ConfigKind.Bool, Default = "no", Immutable = true,
            YesUnsupported = "kv-server cannot daemonize (a .NET process cannot fork): run it in the foreground under a supervisor (systemd Type=simple, supervised no)",
        });
        Bool("protected-mode", true);
        Str("pidfile", "", immutable: true);
        Int("tcp-backlog", 511, 0, int.MaxValue, immutable: true);
        Int("tcp-keepalive", 300, 0, int.MaxValue);
        EnumImmutable("supervised", "no", "no", "upstart", "systemd", "auto");
        Bool("always-show-logo", false, immutable: true);
        Bool("rdbcompression", true);
        Bool("rdbchecksum", true, immutable: true);
        Bool("stop-writes-on-bgsave-error", true);
        EnumImmutable("enable-debug-command", "no", "no", "yes", "local");
        Add(new ConfigParam
        {
            Name = "appendonly", Kind = ConfigKind.Bool, Default = "no",
            YesUnsupported = "kv-server has no append-only file (AOF): persistence is RDB only (save, SAVE, BGSAVE)",
        });
        Str("appendfilename", "appendonly.aof", immutable: true);
        Mem("maxmemory", 0, 0, long.MaxValue);
        Enum("maxmemory-policy", "noeviction", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction");
        Int("maxmemory-samples", 5, 1, int.MaxValue);
        Bool("lazyfree-lazy-expire", false);
        Bool("lazyfree-lazy-eviction", false);
        Bool("lazyfree-lazy-server-del", false);
        Bool("lazyfree-lazy-user-del", false);
        Bool("lazyfree-lazy-user-flush", false);
        Int("io-threads", 1, 1, 128, immutable: true);
        Bool("io-threads-do-reads", false, immutable: true);
        Add(new ConfigParam
        {
            Name = "notify-keyspace-events", Kind = ConfigKind.Special, Default = "", Parse = ParseKeyspaceEvents,
            // keyspaceEventsFlagsToString prints "A" alone for all classes: 'n' (kept, and delivered) is not shown.
            Display = v => v.StartsWith("An", StringComparison.Ordinal) ? "A" + v[2..] : v,
        });
        Int("hash-max-listpack-entries", 512, 0, long.MaxValue, alias: "hash-max-ziplist-entries");
        Mem("hash-max-listpack-value", 64, 0, long.MaxValue, alias: "hash-max-ziplist-value");
        Int("list-max-listpack-size", -2, int.MinValue, int.MaxValue, alias: "list-max-ziplist-size");
        Int("list-compress-depth", 0, 0, int.MaxValue);
        Int("set-max-intset-entries", 512, 0, long.MaxValue);
        Int("zset-max-listpack-entries", 128, 0, long.MaxValue, alias: "zset-max-ziplist-entries");
        Mem("zset-max-listpack-value", 64, 0, long.MaxValue, alias: "zset-max-ziplist-value");
        Int("shutdown-timeout", 10, 0, int.MaxValue);
        Bool("latency-tracking", true);
        Int("slowlog-log-slower-than", 10000, -1, long.MaxValue);
        Int("slowlog-max-len", 128, 0, long.MaxValue);
        // Replication (issue 3).
        Special("replicaof", "", ParseReplicaOf, alias: "slaveof").Immutable = true;
        Str("masterauth", "", sensitive: true);
        Str("masteruser", "");
        Mem("repl-backlog-size", 1024 * 1024, 1, long.MaxValue);
        Int("repl-backlog-ttl", 3600, 0, long.MaxValue);
        Int("repl-timeout", 60, 1, int.MaxValue);
        Int("repl-ping-replica-period", 10, 1, int.MaxValue, alias: "repl-ping-slave-period");
        Bool("repl-diskless-sync", true);
        Int("repl-diskless-sync-delay", 5, 0, int.MaxValue);
        Int("repl-diskless-sync-max-replicas", 0, 0, int.MaxValue);
        Enum("repl-diskless-load", "disabled", "disabled", "on-empty-db", "swapdb");
        Bool("repl-disable-tcp-nodelay", false);
        Bool("replica-read-only", true, alias: "slave-read-only");
        Bool("replica-serve-stale-data", true, alias: "slave-serve-stale-data");
        Bool("replica-announced", true);
        Bool("replica-lazy-flush", false, alias: "slave-lazy-flush");
        Int("replica-priority", 100, 0, int.MaxValue, alias: "slave-priority");
        Str("replica-announce-ip", "", alias: "slave-announce-ip");
        Int("replica-announce-port", 0, 0, 65535, alias: "slave-announce-port");
        Int("min-replicas-to-write", 0, 0, int.MaxValue, alias: "min-slaves-to-write");
        Int("min-replicas-max-lag", 10, 0, int.MaxValue, alias: "min-slaves-max-lag");
        Special("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", ParseCobLimit);
        // Settings redis 7.0.15 has that kv accepts and reports but does not act on (CONFIG GET * lists the same
        // names, types, ranges and defaults as redis).
        Enum("acl-pubsub-default", "resetchannels", "allchannels", "resetchannels");
        Str("aclfile", "", immutable: true);
        Int("acllog-max-len", 128, 0, long.MaxValue);
        Int("active-defrag-cycle-max", 25, 1, 99);
        Int("active-defrag-cycle-min", 1, 1, 99);
        Mem("active-defrag-ignore-bytes", 100L << 20, 1, long.MaxValue);
        Int("active-defrag-max-scan-fields", 1000, 1, long.MaxValue);
        Int("active-defrag-threshold-lower", 10, 0, 1000);
        Int("active-defrag-threshold-upper", 100, 0, 1000);
        Int("active-expire-effort", 1, 1, 10);
        Bool("activedefrag", false);
        Bool("activerehashing", true);
        Bool("aof-disable-auto-gc", false);
        Bool("aof-load-truncated", true);
        Bool("aof-rewrite-incremental-fsync", true);
        Bool("aof-timestamp-enabled", false);
        Bool("aof-use-rdb-preamble", true);
        Str("aof_rewrite_cpulist", "", immutable: true);
        Str("appenddirname", "appendonlydir", immutable: true);
        Enum("appendfsync", "everysec", "everysec", "always", "no");
        Mem("auto-aof-rewrite-min-size", 64L << 20, 0, long.MaxValue);
        Int("auto-aof-rewrite-percentage", 100, 0, int.MaxValue);
        Str("bgsave_cpulist", "", immutable: true);
        Str("bind-source-addr", "");
        Str("bio_cpulist", "", immutable: true);
        Int("busy-reply-threshold", 5000, 0, long.MaxValue, alias: "lua-time-limit");
        Bool("cluster-allow-pubsubshard-when-down", true);
        Bool("cluster-allow-reads-when-down", false);
        Bool("cluster-allow-replica-migration", true);
        Int("cluster-announce-bus-port", 0, 0, 65535);
        Str("cluster-announce-hostname", "");
        Str("cluster-announce-ip", "");
        Int("cluster-announce-port", 0, 0, 65535);
        Int("cluster-announce-tls-port", 0, 0, 65535);
        Str("cluster-config-file", "nodes.conf", immutable: true);
        Bool("cluster-enabled", false, immutable: true);
        Mem("cluster-link-sendbuf-limit", 0, 0, long.MaxValue);
        Int("cluster-migration-barrier", 1, 0, int.MaxValue);
        Int("cluster-node-timeout", 15000, 0, long.MaxValue);
        Int("cluster-port", 0, 0, 65535, immutable: true);
        Enum("cluster-preferred-endpoint-type", "ip", "ip", "hostname", "unknown-endpoint");
        Bool("cluster-replica-no-failover", false, alias: "cluster-slave-no-failover");
        Int("cluster-replica-validity-factor", 10, 0, int.MaxValue, alias: "cluster-slave-validity-factor");
        Bool("cluster-require-full-coverage", true);
        Bool("crash-log-enabled", true);
        Bool("crash-memcheck-enabled", true);
        Bool("disable-thp", true, immutable: true);
        Bool("dynamic-hz", true);
        EnumImmutable("enable-module-command", "no", "no", "yes", "local");
        EnumImmutable("enable-protected-configs", "no", "no", "yes", "local");
        Mem("hll-sparse-max-bytes", 3000, 0, long.MaxValue);
        Str("ignore-warnings", "");
        Bool("jemalloc-bg-thread", true);
        Int("latency-monitor-threshold", 0, 0, long.MaxValue);
        Special("latency-tracking-info-percentiles", "50 99 99.9", ParsePercentiles);
        Int("lfu-decay-time", 1, 0, int.MaxValue);
        Int("lfu-log-factor", 10, 0, int.MaxValue);
        Special("maxmemory-clients", "0", ParseMemoryOrPercent);
        Int("maxmemory-eviction-tenacity", 10, 0, 100);
        Bool("no-appendfsync-on-rewrite", false);
        Enum("oom-score-adj", "no", "no", "yes", "relative", "absolute");
        Special("oom-score-adj-values", "0 200 800", ParseOomValues);
        Str("proc-title-template", "{title} {listen-addr} {server-mode}");
        Enum("propagation-error-behavior", "ignore", "ignore", "panic", "panic-on-replicas");
        Bool("rdb-del-sync-files", false);
        Bool("rdb-save-incremental-fsync", true);
        Bool("replica-ignore-disk-write-errors", false);
        Bool("replica-ignore-maxmemory", true, alias: "slave-ignore-maxmemory");
        Enum("sanitize-dump-payload", "no", "no", "yes", "clients");
        Str("server_cpulist", "", immutable: true);
        Bool("set-proc-title", true, immutable: true);
        Enum("shutdown-on-sigint", "default", "default", "save", "nosave", "now", "force");
        Enum("shutdown-on-sigterm", "default", "default", "save", "nosave", "now", "force");
        Int("socket-mark-id", 0, 0, uint.MaxValue, immutable: true);
        Mem("stream-node-max-bytes", 4096, 0, long.MaxValue);
        Int("stream-node-max-entries", 100, 0, long.MaxValue);
        Bool("syslog-enabled", false, immutable: true);
        Str("syslog-facility", "local0", immutable: true);
        Str("syslog-ident", "redis", immutable: true);
        Enum("tls-auth-clients", "yes", "no", "yes", "optional");
        Str("tls-ca-cert-dir", "");
        Str("tls-ca-cert-file", "");
        Str("tls-cert-file", "");
        Str("tls-ciphers", "");
        Str("tls-ciphersuites", "");
        Str("tls-client-cert-file", "");
        Str("tls-client-key-file", "");
        Str("tls-client-key-file-pass", "", sensitive: true);
        Bool("tls-cluster", false);
        Str("tls-dh-params-file", "");
        Str("tls-key-file", "");
        Str("tls-key-file-pass", "", sensitive: true);
        Int("tls-port", 0, 0, 65535);
        Bool("tls-prefer-server-ciphers", false);
        Str("tls-protocols", "");
        Bool("tls-replication", false);
        Int("tls-session-cache-size", 20480, 0, int.MaxValue);
        Int("tls-session-cache-timeout", 300, 0, int.MaxValue);
        Bool("tls-session-caching", true);
        Int("tracking-table-max-keys", 1000000, 0, long.MaxValue);
        Str("unixsocket", "", immutable: true);
        Int("unixsocketperm", 0, 0, 511, immutable: true);
        foreach (var p in _ordered) { p.Changed = false; }
    }

    /// <summary>All parameters in declaration order.</summary>
    public IReadOnlyList<ConfigParam> All => _ordered;

    /// <summary>Finds a parameter by name or alias.</summary>
    public ConfigParam? Find(string name) => _params.GetValueOrDefault(name);

    /// <summary>Current text value of a parameter.</summary>
    public string Get(string name) => _params[name].Value;

    /// <summary>Current numeric value of an Int/Memory/Bool parameter.</summary>
    public long GetLong(string name) => _params[name].Number;

    /// <summary>
    /// The parameter object itself, for hot paths that keep it and read <see cref="ConfigParam.Number"/> directly
    /// (CONFIG SET updates the same object). Throws <see cref="KeyNotFoundException"/> for an unknown name.
    /// </summary>
    public ConfigParam Param(string name) => _params[name];

    /// <summary>Current value of a Bool parameter.</summary>
    public bool GetBool(string name) => _params[name].Number != 0;

    private ConfigParam Add(ConfigParam p)
    {
        _params[p.Name] = p;
        if (p.Alias is not null) _params[p.Alias] = p;
        _ordered.Add(p);
        Apply(p, Tokenize(p.Default).ToArray(), fromStartup: true);
        return p;
    }

    private ConfigParam Int(string name, long def, long min, long max, bool immutable = false, string? alias = null, bool immutableInRuntime = false)
        => Add(new ConfigParam { Name = name, Kind = ConfigKind.Int, Default = def.ToString(CultureInfo.InvariantCulture), Min = min, Max = max, Immutable = immutable, Alias = alias });
    private ConfigParam Mem(string name, long def, long min, long max, string? alias = null)
        => Add(new ConfigParam { Name = name, Kind = ConfigKind.Memory, Default = def.ToString(CultureInfo.InvariantCulture), Min = min, Max = max, Alias = alias });
    private ConfigParam Bool(string name, bool def, bool immutable = false, string? alias = null)
        => Add(new ConfigParam { Name = name, Kind = ConfigKind.Bool, Default = def ? "yes" : "no", Immutable = immutable, Alias = alias });
    private ConfigParam Str(string name, string def, bool immutable = false, bool sensitive = false, string? alias = null)
        => Add(new ConfigParam { Name = name, Kind = ConfigKind.String, Default = def, Immutable = immutable, Sensitive = sensitive, Alias = alias });
    private ConfigParam Enum(string name, string def, params string[] words)
        => Add(new ConfigParam { Name = name, Kind = ConfigKind.Enum, Default = def, Words = words });
    private ConfigParam EnumImmutable(string name, string def, params string[] words)
        => Add(new ConfigParam { Name = name, Kind = ConfigKind.Enum, Default = def, Words = words, Immutable = true });
    private ConfigParam Special(string name, string def, Func<string[], string> parse, string? alias = null)
        => Add(new ConfigParam { Name = name, Kind = ConfigKind.Special, Default = def, Parse = parse, Alias = alias });

    /// <summary>
    /// Parses a memory value as memtoull: digits with optional b, k, kb, m, mb, g, gb (case-insensitive;
    /// k = 1000, kb = 1024).
    /// </summary>
    public static bool TryParseMemory(string s, out long bytes)
    {
        bytes = 0;
        s = s.Trim().ToLowerInvariant();
        long mul = 1;
        string[] units = ["gb", "mb", "kb", "g", "m", "k", "b"];
        long[] muls = [1L << 30, 1L << 20, 1L << 10, 1_000_000_000, 1_000_000, 1000, 1];
        for (int i = 0; i < units.Length; i++)
        {
            if (s.EndsWith(units[i], StringComparison.Ordinal))
            {
                mul = muls[i];
                s = s[..^units[i].Length];
                break;
            }
        }
        // memtoull: digits only (no sign), the product must fit.
        if (s.Length == 0 || !long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return false;
        if (n > long.MaxValue / mul) return false;
        bytes = n * mul;
        return true;
    }

    /// <summary>Sets a parameter from its argument words (as in a config line), validating it.</summary>
    /// <exception cref="ConfigException">Unknown name or invalid value; message as redis words it.</exception>
    public void Set(string name, string[] args, bool atRuntime)
    {
        var p = Find(name) ?? throw new ConfigException("Bad directive or wrong number of arguments");
        if (atRuntime && p.Immutable) throw new ConfigException("can't set immutable config");
        Apply(p, args, !atRuntime);
        p.Changed = true;
    }

    private static void Apply(ConfigParam p, string[] args, bool fromStartup)
    {
        string joined = string.Join(' ', args);
        switch (p.Kind)
        {
            case ConfigKind.Bool:
                if (args.Length != 1) throw new ConfigException("wrong number of arguments");
                var b = args[0].ToLowerInvariant();
                if (b != "yes" && b != "no") throw new ConfigException("argument must be 'yes' or 'no'");
                if (b == "yes" && p.YesUnsupported is { } why) throw new ConfigException(why);
                p.Value = b;
                p.Number = b == "yes" ? 1 : 0;
                break;
            case ConfigKind.Int:
                if (args.Length != 1) throw new ConfigException("wrong number of arguments");
                if (!long.TryParse(args[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
                    throw new ConfigException("argument couldn't be parsed into an integer");
                if (n < p.Min || n > p.Max) throw new ConfigException($"argument must be between {p.Min} and {p.Max} inclusive");
                if (p.Clamp is { } cl) n = Math.Clamp(n, cl.Min, cl.Max);
                p.Number = n;
                p.Value = n.ToString(CultureInfo.InvariantCulture);
                break;
            case ConfigKind.Memory:
                if (args.Length != 1) throw new ConfigException("wrong number of arguments");
                if (!TryParseMemory(args[0], out var m)) throw new ConfigException("argument must be a memory value");
                if (m < p.Min || m > p.Max) throw new ConfigException($"argument must be between {p.Min} and {p.Max} inclusive");
                p.Number = m;
                p.Value = m.ToString(CultureInfo.InvariantCulture);
                break;
            case ConfigKind.Enum:
                if (args.Length != 1) throw new ConfigException("wrong number of arguments");
                var w = args[0].ToLowerInvariant();
                if (!p.Words!.Contains(w)) throw new ConfigException($"argument(s) must be one of the following: {string.Join(", ", p.Words!)}");
                p.Value = w;
                break;
            case ConfigKind.String:
                p.Value = joined;
                break;
            case ConfigKind.Special:
                p.Value = p.Parse!(args);
                break;
        }
        if (!fromStartup || p.OnChange is not null) p.OnChange?.Invoke(p);
    }

    private static string ParseSave(string[] args)
    {
        if (args.Length == 1 && args[0] == "") return "";
        if (args.Length % 2 != 0) throw new ConfigException("Invalid save parameters");
        foreach (var a in args)
            if (!long.TryParse(a, out var v) || v < 0) throw new ConfigException("Invalid save parameters");
        return string.Join(' ', args);
    }

    /// <summary>
    /// notify-keyspace-events (notify.c keyspaceEventsStringToFlags / keyspaceEventsFlagsToString): any of
    /// "Ag$lshzxeKEtmdn", kept canonically ("A" for all of g$lshzxetd, then n, K, E, m; shown without the n, see ConfigParam.Shown).
    /// </summary>
    private static string ParseKeyspaceEvents(string[] args)
    {
        const string classes = "g$lshzxetdn"; // print order of the type classes
        var v = string.Join(' ', args);
        var set = new HashSet<char>();
        foreach (char c in v)
        {
            if (c == 'A') { foreach (char a in "g$lshzxetd") set.Add(a); }
            else if ("g$lshzxeKEtmdn".Contains(c)) set.Add(c);
            else throw new ConfigException("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
        }
        var sb = new StringBuilder();
        if ("g$lshzxetd".All(set.Contains))
        {
            sb.Append('A');
            if (set.Contains('n')) sb.Append('n');
        }
        else
        {
            foreach (char c in classes) if (set.Contains(c)) sb.Append(c);
        }
        if (set.Contains('K')) sb.Append('K');
        if (set.Contains('E')) sb.Append('E');
        if (set.Contains('m')) sb.Append('m');
        return sb.ToString();
    }

    /// <summary>dir: setConfigDirOption chdirs at once, so a missing folder is an error; CONFIG GET shows the absolute path.</summary>
    private static string ParseDir(string[] args)
    {
        if (args.Length != 1) throw new ConfigException("wrong number of arguments");
        if (!Directory.Exists(args[0])) throw new ConfigException("No such file or directory");
        return Path.GetFullPath(args[0]);
    }

    private static string ParseMemoryOrPercent(string[] args)
    {
        var v = args.Length == 1 ? args[0] : "";
        if (v.EndsWith('%') && long.TryParse(v[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var pct))
            return pct.ToString(CultureInfo.InvariantCulture) + "%";
        if (!TryParseMemory(v, out var bytes)) throw new ConfigException("argument must be a memory or percent value");
        return bytes.ToString(CultureInfo.InvariantCulture);
    }

    private static string ParsePercentiles(string[] args)
    {
        var parts = new List<string>();
        foreach (var a in args)
        {
            if (!double.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || d < 0 || d > 100)
                throw new ConfigException("Invalid latency-tracking-info-percentiles parameters");
            parts.Add(d.ToString("0.######", CultureInfo.InvariantCulture));
        }
        return string.Join(' ', parts);
    }

    private static string ParseOomValues(string[] args)
    {
        if (args.Length != 3) throw new ConfigException("wrong number of arguments");
        foreach (var a in args)
            if (!int.TryParse(a, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) || v < -2000 || v > 2000)
                throw new ConfigException("Invalid oom-score-adj-values");
        return string.Join(' ', args.Select(a => int.Parse(a, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)));
    }

    private static string ParseReplicaOf(string[] args)
    {
        if (args.Length == 0 || (args.Length == 1 && args[0] == "")) return "";
        if (args.Length == 2 && args[0].Equals("no", StringComparison.OrdinalIgnoreCase) && args[1].Equals("one", StringComparison.OrdinalIgnoreCase)) return "";
        if (args.Length != 2 || !int.TryParse(args[1], out var port) || port < 0 || port > 65535)
            throw new ConfigException("Invalid master port");
        return args[0] + " " + args[1];
    }

    private static string ParseCobLimit(string[] args)
    {
        if (args.Length % 4 != 0) throw new ConfigException("Wrong number of arguments in buffer limit configuration.");
        var parts = new Dictionary<string, string>
        {
            ["normal"] = "0 0 0", ["slave"] = "268435456 67108864 60", ["pubsub"] = "33554432 8388608 60",
        };
        for (int i = 0; i < args.Length; i += 4)
        {
            var cls = args[i].ToLowerInvariant();
            if (cls == "replica") cls = "slave";
            if (!parts.ContainsKey(cls)) throw new ConfigException("Invalid client class specified in buffer limit configuration.");
            if (!TryParseMemory(args[i + 1], out var hard) || !TryParseMemory(args[i + 2], out var soft) ||
                !long.TryParse(args[i + 3], out var secs) || hard < 0 || soft < 0 || secs < 0)
                throw new ConfigException("Error in hard, soft or soft_seconds setting in buffer limit configuration.");
            parts[cls] = $"{hard} {soft} {secs}";
        }
        return $"normal {parts["normal"]} slave {parts["slave"]} pubsub {parts["pubsub"]}";
    }

    /// <summary>
    /// Tokenizes a config line as sdssplitargs (quotes, escapes). Returns an empty list for blank lines.
    /// </summary>
    public static List<string> Tokenize(string line)
    {
        var parts = Resp.RequestParser.SplitArgs(Encoding.UTF8.GetBytes(line));
        if (parts is null) throw new ConfigException("Unbalanced quotes in configuration line");
        var res = parts.Select(p => Encoding.UTF8.GetString(p)).ToList();
        if (res.Count == 0 && line.Trim() == "\"\"") res.Add("");
        // A literal "" argument (e.g. save "") tokenizes to an empty string.
        return res;
    }

    /// <summary>
    /// Loads configuration the way redis-server's main() does: the file's lines, then each "--name value..." group
    /// from the command line appended as further lines. Errors follow redis's FATAL CONFIG FILE ERROR report.
    /// </summary>
    /// <exception cref="ConfigException">With the full multi-line report text.</exception>
    public void Load(string? file, IReadOnlyList<string> overrides)
    {
        var lines = new List<string>();
        if (file == "-")
        {
            // "kv-server -": the configuration comes from standard input (redis-server's loadServerConfig), and
            // CONFIG REWRITE has no file to rewrite.
            lines.AddRange(Console.In.ReadToEnd().Split('\n'));
        }
        else if (file is not null)
        {
            ConfigFile = Path.GetFullPath(file);
            string text;
            try { text = File.ReadAllText(file); }
            catch (Exception e) { throw new ConfigException($"Fatal error, can't open config file '{file}': {e.Message}"); }
            lines.AddRange(text.Split('\n'));
        }
        // Command line options: "--port 6380 --save 60 1" -> lines 'port "6380"', 'save "60" "1"' (main() appends
        // each value with sdscatrepr), after a separating newline (so with no file the first option is line 2).
        if (overrides.Count > 0) lines.Add("");
        var sb = new StringBuilder();
        for (int i = 0; i < overrides.Count; i++)
        {
            var a = overrides[i];
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                if (sb.Length > 0) { lines.Add(sb.ToString()); sb.Clear(); }
                sb.Append(a[2..]);
            }
            else
            {
                if (sb.Length == 0) throw new ConfigException(FatalReport(lines.Count + 1, a, "Bad directive or wrong number of arguments"));
                sb.Append(' ').Append(Repr(a));
            }
        }
        if (sb.Length > 0) lines.Add(sb.ToString());

        for (int i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            List<string> words;
            try { words = Tokenize(line); }
            catch (ConfigException) { throw new ConfigException(FatalReport(i + 1, line, "Unbalanced quotes in configuration line")); }
            if (words.Count == 0) continue;
            var name = words[0].ToLowerInvariant();
            var args = words.Skip(1).ToArray();
            if (args.Length == 0 && name != "save" && Find(name)?.Kind != ConfigKind.String)
                throw new ConfigException(FatalReport(i + 1, line, "wrong number of arguments"));
            if (name == "include")
            {
                Load(args[0], []);
                continue;
            }
            if (Find(name) is null) throw new ConfigException(FatalReport(i + 1, line, "Bad directive or wrong number of arguments"));
            // Single-argument settings need exactly one (MULTI_ARG_CONFIG ones check their own count).
            if (Find(name)!.Kind != ConfigKind.Special && args.Length != 1)
                throw new ConfigException(FatalReport(i + 1, line, "wrong number of arguments"));
            try { Set(name, args, atRuntime: false); }
            catch (ConfigException e) { throw new ConfigException(FatalReport(i + 1, line, e.Message)); }
        }
    }

    /// <summary>sdscatrepr of the UTF-8 bytes of <paramref name="a"/>.</summary>
    private static string Repr(string a) => Kv.Resp.SdsRepr.Append(new StringBuilder(), Encoding.UTF8.GetBytes(a)).ToString();

    private static string Quote(string a) => a.Length == 0 || a.Any(c => char.IsWhiteSpace(c) || c == '"' || c == '\'')
        ? "\"" + a.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\""
        : a;

    private static string FatalReport(int lineNo, string line, string err) =>
        $"\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {lineNo}\n>>> '{line}'\n{err}";

    /// <summary>
    /// Rewrites the config file (CONFIG REWRITE): keeps unrelated lines and comments, replaces lines of changed
    /// options, appends the rest. Writes a temp file, fsyncs and renames.
    /// </summary>
    /// <exception cref="ConfigException">No config file was given at start.</exception>
    public void Rewrite()
    {
        if (ConfigFile is null) throw new ConfigException("The server is running without a config file");
        var old = File.Exists(ConfigFile) ? File.ReadAllLines(ConfigFile).ToList() : [];
        var written = new HashSet<ConfigParam>();
        var output = new List<string>();
        foreach (var raw in old)
        {
            var t = raw.Trim();
            if (t.Length == 0 || t[0] == '#') { output.Add(raw); continue; }
            var words = Tokenize(t);
            var p = words.Count > 0 ? Find(words[0]) : null;
            if (p is null) { output.Add(raw); continue; }
            if (written.Add(p)) output.Add(Line(p));
        }
        foreach (var p in _ordered)
            if (p.Changed && !written.Contains(p)) output.Add(Line(p));
        var tmp = ConfigFile + ".tmp-" + Environment.ProcessId;
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            var bytes = Encoding.UTF8.GetBytes(string.Join('\n', output) + "\n");
            fs.Write(bytes);
            fs.Flush(true);
        }
        File.Move(tmp, ConfigFile, true);
    }

    private static string Line(ConfigParam p) => p.Kind == ConfigKind.String || p.Name == "dir" ? $"{p.Name} {Quote(p.Value)}" :
        p.Name == "save" && p.Value == "" ? "save \"\"" : $"{p.Name} {p.Shown}";
}

