using System.Text;

namespace Kv.Commands;

/// <summary>Command flags, named after redis 7.0.15's CMD_* flags (server.h) and the COMMAND INFO flag words.</summary>
[Flags]
public enum CommandFlags
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>"write": may modify the keyspace (refused on read-only replicas, counted by min-replicas, propagated).</summary>
    Write = 1 << 0,
    /// <summary>"readonly".</summary>
    ReadOnly = 1 << 1,
    /// <summary>"denyoom".</summary>
    DenyOom = 1 << 2,
    /// <summary>"admin".</summary>
    Admin = 1 << 3,
    /// <summary>"pubsub".</summary>
    PubSub = 1 << 4,
    /// <summary>"noscript".</summary>
    NoScript = 1 << 5,
    /// <summary>"blocking".</summary>
    Blocking = 1 << 6,
    /// <summary>"loading": allowed while loading.</summary>
    Loading = 1 << 7,
    /// <summary>"stale": allowed on a replica whose link is down with replica-serve-stale-data no.</summary>
    Stale = 1 << 8,
    /// <summary>"skip_monitor".</summary>
    SkipMonitor = 1 << 9,
    /// <summary>"fast".</summary>
    Fast = 1 << 10,
    /// <summary>"no_auth": allowed before AUTH.</summary>
    NoAuth = 1 << 11,
    /// <summary>"may_replicate".</summary>
    MayReplicate = 1 << 12,
    /// <summary>"no_multi": refused inside MULTI.</summary>
    NoMulti = 1 << 13,
    /// <summary>"allow_busy".</summary>
    AllowBusy = 1 << 14,
    /// <summary>"sentinel" and friends are not modelled; this marks commands allowed in RESP2 subscribed context.</summary>
    SubscribeContext = 1 << 15,
    /// <summary>"skip_slowlog".</summary>
    SkipSlowlog = 1 << 16,
    /// <summary>"no_mandatory_keys".</summary>
    NoMandatoryKeys = 1 << 17,
    /// <summary>"protected": gated by enable-debug-command (DEBUG).</summary>
    Protected = 1 << 18,
}

/// <summary>Executes one command. Arguments and reply sink are on the context.</summary>
public delegate void CommandHandler(CommandContext ctx);

/// <summary>
/// One command or subcommand, with the metadata redis 7.0.15 keeps in its command table (src/commands/*.json):
/// arity (negative = at least), flags, key positions, ACL categories. Subcommands (CONFIG GET...) hang off their
/// container.
/// </summary>
public sealed class CommandDef
{
    /// <summary>Lower-case name ("get", or "get" under container "config").</summary>
    public required string Name { get; init; }
    /// <summary>Arity as in redis: N = exactly N arguments including the name; -N = at least N.</summary>
    public required int Arity { get; init; }
    /// <summary>Flags.</summary>
    public CommandFlags Flags { get; init; }
    /// <summary>First key argument index (0 = no keys).</summary>
    public int FirstKey { get; init; }
    /// <summary>Last key argument index (-1 = last argument).</summary>
    public int LastKey { get; init; }
    /// <summary>Step between key arguments.</summary>
    public int KeyStep { get; init; }
    /// <summary>ACL categories without '@' ("read", "string", "fast").</summary>
    public string[] AclCategories { get; init; } = [];
    /// <summary>Handler (null for containers that only dispatch to subcommands).</summary>
    public CommandHandler? Handler { get; init; }
    /// <summary>Container command for subcommands (e.g. CONFIG for CONFIG GET).</summary>
    public CommandDef? Parent { get; internal set; }
    /// <summary>Subcommands by lower-case name.</summary>
    public Dictionary<string, CommandDef>? Subcommands { get; private set; }
    /// <summary>One-line summary (COMMAND DOCS).</summary>
    public string Summary { get; init; } = "";
    /// <summary>Version the command appeared in (COMMAND DOCS "since").</summary>
    public string Since { get; init; } = "1.0.0";
    /// <summary>Group (COMMAND DOCS "group"): string, list, generic, server, connection...</summary>
    public string Group { get; init; } = "generic";
    /// <summary>Calls (INFO commandstats).</summary>
    public long Calls;
    /// <summary>Total microseconds spent (INFO commandstats).</summary>
    public long Microseconds;
    /// <summary>Rejected calls (INFO commandstats).</summary>
    public long RejectedCalls;
    /// <summary>Failed calls (INFO commandstats).</summary>
    public long FailedCalls;

    /// <summary>"name" or "container|name", as in error texts and COMMAND INFO.</summary>
    public string FullName => Parent is null ? Name : Parent.Name + "|" + Name;

    /// <summary>Adds a subcommand.</summary>
    public CommandDef Sub(CommandDef sub)
    {
        Subcommands ??= new Dictionary<string, CommandDef>(StringComparer.OrdinalIgnoreCase);
        sub.Parent = this;
        Subcommands[sub.Name] = sub;
        return this;
    }

    /// <summary>True when the command (or its container) has <paramref name="f"/>.</summary>
    public bool Has(CommandFlags f) => (Flags & f) != 0;
}

/// <summary>
/// The command table: name (case-insensitive) to <see cref="CommandDef"/>. Built once at startup by the
/// Register methods of each command group.
/// </summary>
public sealed class CommandTable
{
    private readonly Dictionary<string, CommandDef> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, CommandDef>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    /// <summary>Creates an empty table.</summary>
    public CommandTable() => _lookup = _byName.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>All top-level commands.</summary>
    public IReadOnlyCollection<CommandDef> All => _byName.Values;

    /// <summary>Adds (or replaces) a top-level command.</summary>
    public void Add(CommandDef def)
    {
        _byName[def.Name] = def;
        if (NameKey.TryCreate(System.Text.Encoding.ASCII.GetBytes(def.Name), out var k)) _byKey.Set(k, def);
    }

    // Names of up to 16 bytes, lower-cased and packed into two words: one hash of two longs per lookup instead of
    // widening to chars and a case-insensitive string hash (every request looks its command up).
    private readonly NameTable _byKey = new();

    /// <summary>Open addressing over a power-of-two array of (key, command), linear probing; never shrinks.</summary>
    private sealed class NameTable
    {
        private NameKey[] _keys = new NameKey[1024];
        private CommandDef?[] _defs = new CommandDef?[1024];
        private int _count;

        public CommandDef? Get(in NameKey key)
        {
            int mask = _keys.Length - 1;
            for (int i = key.GetHashCode() & mask; ; i = (i + 1) & mask)
            {
                var d = _defs[i];
                if (d is null) return null;
                if (_keys[i].Equals(key)) return d;
            }
        }

        public void Set(in NameKey key, CommandDef def)
        {
            if ((_count + 1) * 2 > _keys.Length)
            {
                var (oldKeys, oldDefs) = (_keys, _defs);
                _keys = new NameKey[oldKeys.Length * 2];
                _defs = new CommandDef?[oldKeys.Length * 2];
                _count = 0;
                for (int j = 0; j < oldKeys.Length; j++) if (oldDefs[j] is { } d) Set(oldKeys[j], d);
            }
            int mask = _keys.Length - 1;
            int i = key.GetHashCode() & mask;
            while (_defs[i] is not null && !_keys[i].Equals(key)) i = (i + 1) & mask;
            if (_defs[i] is null) _count++;
            _keys[i] = key;
            _defs[i] = def;
        }
    }

    private readonly record struct NameKey(ulong Lo, ulong Hi, int Length)
    {
        public static bool TryCreate(ReadOnlySpan<byte> name, out NameKey key)
        {
            key = default;
            if (name.Length > 16) return false;
            ulong lo = 0, hi = 0;
            for (int i = 0; i < name.Length; i++)
            {
                ulong c = name[i];
                if (c - 'A' <= 'Z' - 'A') c |= 0x20;
                if (i < 8) lo |= c << (8 * i);
                else hi |= c << (8 * (i - 8));
            }
            key = new NameKey(lo, hi, name.Length);
            return true;
        }

        public bool Equals(NameKey other) => Lo == other.Lo && Hi == other.Hi && Length == other.Length;

        public override int GetHashCode() => (int)(((Lo ^ (Hi * 0xC2B2AE3D27D4EB4FUL)) * 0x9E3779B97F4A7C15UL) >> 40) ^ Length;
    }

    /// <summary>Finds a command by its name bytes (case-insensitive ASCII).</summary>
    public CommandDef? Find(ReadOnlySpan<byte> name)
    {
        if (NameKey.TryCreate(name, out var key)) return _byKey.Get(key);
        if (name.Length > 64) return null;
        Span<char> chars = stackalloc char[name.Length];
        for (int i = 0; i < name.Length; i++) chars[i] = (char)name[i];
        return _lookup.TryGetValue(chars, out var def) ? def : null;
    }

    /// <summary>Finds a command by name.</summary>
    public CommandDef? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Shorthand to build and add a command.</summary>
    public CommandDef Add(string name, int arity, CommandFlags flags, int firstKey, int lastKey, int step,
        CommandHandler? handler, string group = "generic", string acl = "")
    {
        var def = new CommandDef
        {
            Name = name, Arity = arity, Flags = flags, FirstKey = firstKey, LastKey = lastKey, KeyStep = step,
            Handler = handler, Group = group,
            AclCategories = acl.Split(' ', StringSplitOptions.RemoveEmptyEntries),
        };
        Add(def);
        return def;
    }

    /// <summary>Returns the container command <paramref name="name"/>, creating it when missing (lets several groups add subcommands).</summary>
    public CommandDef Container(string name, CommandFlags flags = CommandFlags.None, string group = "server")
    {
        if (_byName.TryGetValue(name, out var existing)) return existing;
        return Add(name, -2, flags, 0, 0, 0, null, group, "slow");
    }

    /// <summary>Shorthand to build a subcommand definition.</summary>
    public static CommandDef SubDef(string name, int arity, CommandFlags flags, CommandHandler handler, int firstKey = 0, int lastKey = 0, int step = 0, string acl = "")
        => new()
        {
            Name = name, Arity = arity, Flags = flags, Handler = handler, FirstKey = firstKey, LastKey = lastKey, KeyStep = step,
            AclCategories = acl.Split(' ', StringSplitOptions.RemoveEmptyEntries),
        };

    internal static string Printable(ReadOnlySpan<byte> s, int max = 128)
    {
        var text = Encoding.UTF8.GetString(s.Length > max ? s[..max] : s);
        return text;
    }
}
