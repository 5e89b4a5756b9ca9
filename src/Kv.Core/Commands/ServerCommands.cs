using System.Text;
using Kv.Resp;
using Kv.Server;
using Kv.Storage;

namespace Kv.Commands;

/// <summary>Server commands: INFO DBSIZE FLUSHDB FLUSHALL TIME SWAPDB MONITOR CONFIG COMMAND DEBUG (server.c, config.c, debug.c).</summary>
[CommandGroup]
internal static class ServerCommands
{
    public static void Register(CommandTable t)
    {
        t.Add("info", -1, CommandFlags.Loading | CommandFlags.Stale, 0, 0, 0, Info, "server", "slow dangerous");
        t.Add("dbsize", 1, CommandFlags.ReadOnly | CommandFlags.Fast, 0, 0, 0, ctx => ctx.Reply.Integer(ctx.Db.Count), "server", "keyspace read fast");
        t.Add("flushdb", -1, CommandFlags.Write, 0, 0, 0, FlushDb, "server", "keyspace write slow dangerous");
        t.Add("flushall", -1, CommandFlags.Write, 0, 0, 0, FlushAll, "server", "keyspace write slow dangerous");
        t.Add("time", 1, CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast, 0, 0, 0, Time, "server", "fast");
        t.Add("swapdb", 3, CommandFlags.Write | CommandFlags.Fast, 0, 0, 0, SwapDb, "server", "keyspace write fast dangerous");
        t.Add("monitor", 1, CommandFlags.Admin | CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale, 0, 0, 0, Monitor, "server", "admin slow dangerous");
        t.Add("lolwut", -1, CommandFlags.ReadOnly | CommandFlags.Fast, 0, 0, 0, ctx => ctx.Reply.Verbatim("Redis ver. " + KvVersion.RedisVersion + "\n"), "server", "read fast");

        var config = t.Container("config");
        const CommandFlags cf = CommandFlags.Admin | CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale;
        const string cacl = "admin slow dangerous";
        config.Sub(CommandTable.SubDef("get", -3, cf, ConfigGet, acl: cacl));
        config.Sub(CommandTable.SubDef("set", -4, cf, ConfigSet, acl: cacl));
        config.Sub(CommandTable.SubDef("resetstat", 2, cf, acl: cacl, handler: ctx =>
        {
            ctx.Server.Stats.Reset();
            ctx.Server.ResetErrorStats();
            foreach (var d in ctx.Server.Commands.All)
            {
                d.Calls = d.Microseconds = d.FailedCalls = d.RejectedCalls = 0;
                if (d.Subcommands is not null) foreach (var s in d.Subcommands.Values) s.Calls = s.Microseconds = s.FailedCalls = s.RejectedCalls = 0;
            }
            ctx.Reply.Ok();
        }));
        config.Sub(CommandTable.SubDef("rewrite", 2, cf, ConfigRewrite, acl: cacl));
        config.Sub(CommandTable.SubDef("help", 2, CommandFlags.Loading | CommandFlags.Stale, acl: "slow", handler: ctx => ConnectionCommands.Help(ctx, "CONFIG", [
            "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
            "RESETSTAT", "    Reset statistics reported by the INFO command.",
            "REWRITE", "    Rewrite the configuration file.",
        ])));

        var command = t.Add("command", -1, CommandFlags.Loading | CommandFlags.Stale, 0, 0, 0, ctx => CommandInfo(ctx, all: true), "server", "connection slow");
        const string kacl = "slow connection";
        command.Sub(CommandTable.SubDef("count", 2, CommandFlags.Loading | CommandFlags.Stale, ctx => ctx.Reply.Integer(ctx.Server.Commands.All.Count), acl: kacl));
        command.Sub(CommandTable.SubDef("info", -2, CommandFlags.Loading | CommandFlags.Stale, ctx => CommandInfo(ctx, all: ctx.Argc == 2), acl: kacl));
        command.Sub(CommandTable.SubDef("docs", -2, CommandFlags.Loading | CommandFlags.Stale, CommandDocs, acl: kacl));
        command.Sub(CommandTable.SubDef("list", -2, CommandFlags.Loading | CommandFlags.Stale, CommandList, acl: kacl));
        command.Sub(CommandTable.SubDef("getkeys", -4, CommandFlags.Loading | CommandFlags.Stale, CommandGetKeys, acl: kacl));

        var debug = t.Container("debug", CommandFlags.Protected);
        const CommandFlags df = CommandFlags.Admin | CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Protected;
        debug.Sub(CommandTable.SubDef("sleep", 3, df, DebugSleep));
        debug.Sub(CommandTable.SubDef("set-active-expire", 3, df, ctx =>
        {
            ctx.Server.ActiveExpireEnabled = !ctx.ArgIs(2, "0");
            ctx.Reply.Ok();
        }));
        debug.Sub(CommandTable.SubDef("object", 3, df, DebugObject));
    }

    private static void Info(CommandContext ctx)
    {
        var sections = new List<string>();
        for (int i = 1; i < ctx.Argc; i++) sections.Add(ctx.ArgString(i));
        ctx.Reply.Verbatim(ctx.Server.GenerateInfo(sections));
    }

    private static bool ParseFlushFlags(CommandContext ctx)
    {
        if (ctx.Argc > 2)
        {
            ctx.SyntaxError();
            return false;
        }
        if (ctx.Argc == 2 && !ctx.ArgIs(1, "SYNC") && !ctx.ArgIs(1, "ASYNC"))
        {
            ctx.SyntaxError();
            return false;
        }
        return true;
    }

    private static void FlushDb(CommandContext ctx)
    {
        if (!ParseFlushFlags(ctx)) return;
        long n = ctx.Db.Count;
        var flushed = ctx.Db;
        ctx.Server.Watches.TouchDbWhere(ctx.Client.DbIndex, k => flushed.Main.TryGetValue(k, out _));
        ctx.Db.Clear();
        ctx.Dirty(n + 1);
        ctx.Reply.Ok();
    }

    private static void FlushAll(CommandContext ctx)
    {
        if (!ParseFlushFlags(ctx)) return;
        long n = 0;
        foreach (var db in ctx.Server.Databases)
        {
            n += db.Count;
            ctx.Server.Watches.TouchDbWhere(db.Id, k => db.Main.TryGetValue(k, out _));
            db.Clear();
        }
        ctx.Dirty(n);
        ctx.Server.OnFlushAll?.Invoke();
        ctx.Dirty();
        ctx.Reply.Ok();
    }

    private static void Time(CommandContext ctx)
    {
        long us = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000 + (DateTime.UtcNow.Ticks / 10) % 1000;
        ctx.Reply.ArrayHeader(2);
        ctx.Reply.BulkLong(us / 1_000_000);
        ctx.Reply.BulkLong(us % 1_000_000);
    }

    private static void SwapDb(CommandContext ctx)
    {
        if (!RequestParser.TryParseLong(ctx.Arg(1), out long a) || a < int.MinValue || a > int.MaxValue)
        {
            ctx.Error("ERR invalid first DB index");
            return;
        }
        if (!RequestParser.TryParseLong(ctx.Arg(2), out long b) || b < int.MinValue || b > int.MaxValue)
        {
            ctx.Error("ERR invalid second DB index");
            return;
        }
        var dbs = ctx.Server.Databases;
        if (a < 0 || a >= dbs.Length || b < 0 || b >= dbs.Length)
        {
            ctx.Error(Errors.DbIndexOutOfRange);
            return;
        }
        if (a != b)
        {
            RedisDb da = dbs[a], db2 = dbs[b];
            ctx.Server.Watches.TouchDbWhere((int)a, k => da.Main.TryGetValue(k, out _) || db2.Main.TryGetValue(k, out _));
            ctx.Server.Watches.TouchDbWhere((int)b, k => da.Main.TryGetValue(k, out _) || db2.Main.TryGetValue(k, out _));
            dbs[a].SwapWith(dbs[b]);
            ctx.Server.Blocking.ScanDatabaseForReadyKeys((int)a, dbs[a]);
            ctx.Server.Blocking.ScanDatabaseForReadyKeys((int)b, dbs[b]);
        }
        ctx.Dirty();
        ctx.Reply.Ok();
    }

    private static void Monitor(CommandContext ctx)
    {
        if (ctx.Client.IsReplica) return;
        if (!ctx.Server.Monitors.Contains(ctx.Client)) ctx.Server.Monitors.Add(ctx.Client);
        ctx.Reply.Ok();
    }

    private static void ConfigGet(CommandContext ctx)
    {
        var result = new List<(string, string)>();
        var seen = new HashSet<string>();
        for (int i = 2; i < ctx.Argc; i++)
        {
            var pat = ctx.ArgBytes(i);
            bool glob = pat.Any(b => b is (byte)'*' or (byte)'?' or (byte)'[');
            foreach (var p in ctx.Server.Config.All)
            {
                foreach (var name in p.Alias is null ? [p.Name] : new[] { p.Name, p.Alias })
                {
                    bool match = glob ? Glob.Match(pat, Encoding.ASCII.GetBytes(name), true)
                                      : string.Equals(Encoding.UTF8.GetString(pat), name, StringComparison.OrdinalIgnoreCase);
                    if (match && seen.Add(name)) result.Add((name, p.Shown));
                }
            }
        }
        ctx.Reply.MapHeader(result.Count);
        foreach (var (n, v) in result)
        {
            ctx.Reply.Bulk(n);
            ctx.Reply.Bulk(v);
        }
    }

    /// <summary>
    /// CONFIG SET name value [name value ...] as configSetCommand in 7.0.15: an odd pair count is a syntax error;
    /// every pair is checked first (unknown name, immutable, protected, duplicate: the first problem wins), then all
    /// values are set, and if one fails the earlier ones are restored.
    /// </summary>
    private static void ConfigSet(CommandContext ctx)
    {
        if ((ctx.Argc - 2) % 2 != 0)
        {
            ctx.SyntaxError();
            return;
        }
        var cfg = ctx.Server.Config;
        var changes = new List<(ConfigParam P, string[] Args, string Old)>();
        string? unknown = null, errArg = null, errStr = null;
        for (int i = 2; i < ctx.Argc; i += 2)
        {
            var name = ctx.ArgString(i);
            var p = cfg.Find(name);
            if (p is null)
            {
                if (errArg is null && unknown is null) unknown = name;
                continue;
            }
            if (unknown is not null || errArg is not null) continue;
            if (p.Immutable || (p.Protected && !ProtectedConfigAllowed(ctx)))
            {
                errStr = p.Immutable ? "can't set immutable config" : "can't set protected config";
                errArg = name;
                continue;
            }
            if (changes.Any(c => c.P == p))
            {
                errStr = "duplicate parameter";
                errArg = name;
                continue;
            }
            var value = ctx.ArgString(i + 1);
            string[] args;
            try { args = p.Kind is ConfigKind.String ? [value] : KvConfig.Tokenize(value).ToArray(); }
            catch (ConfigException) { args = [value]; }
            if (args.Length == 0) args = [""];
            changes.Add((p, args, p.Value));
        }
        if (unknown is not null)
        {
            ctx.Error($"ERR Unknown option or number of arguments for CONFIG SET - '{unknown}'");
            return;
        }
        if (errArg is not null)
        {
            ctx.Error($"ERR CONFIG SET failed (possibly related to argument '{errArg}') - {errStr}");
            return;
        }
        for (int i = 0; i < changes.Count; i++)
        {
            var (p, args, _) = changes[i];
            try { cfg.Set(p.Name, args, atRuntime: true); }
            catch (ConfigException e)
            {
                // restoreBackupConfig: put back the values already set; the error names the canonical config.
                for (int j = 0; j < i; j++)
                {
                    try { cfg.Set(changes[j].P.Name, KvConfig.Tokenize(changes[j].Old).ToArray(), atRuntime: false); }
                    catch (ConfigException) { }
                }
                ctx.Error($"ERR CONFIG SET failed (possibly related to argument '{p.Name}') - {e.Message}");
                return;
            }
        }
        ctx.Reply.Ok();
    }

    /// <summary>allowProtectedAction: enable-protected-configs yes, or local and the client is on loopback.</summary>
    private static bool ProtectedConfigAllowed(CommandContext ctx)
    {
        var mode = ctx.Server.Config.Get("enable-protected-configs");
        if (mode == "yes" || ctx.Client.Socket is null) return true;
        return mode == "local" && ctx.Client.Address is { } a && System.Net.IPAddress.IsLoopback(a.Address);
    }

    private static void ConfigRewrite(CommandContext ctx)
    {
        try
        {
            ctx.Server.Config.Rewrite();
            ctx.Reply.Ok();
        }
        catch (ConfigException e)
        {
            ctx.Error("ERR " + e.Message);
        }
        catch (IOException e)
        {
            ctx.Error("ERR Rewriting config file: " + e.Message);
        }
    }

    private static readonly (CommandFlags Flag, string Name)[] FlagNames =
    [
        (CommandFlags.Write, "write"), (CommandFlags.ReadOnly, "readonly"), (CommandFlags.DenyOom, "denyoom"),
        (CommandFlags.Admin, "admin"), (CommandFlags.PubSub, "pubsub"), (CommandFlags.NoScript, "noscript"),
        (CommandFlags.Blocking, "blocking"), (CommandFlags.Loading, "loading"), (CommandFlags.Stale, "stale"),
        (CommandFlags.SkipMonitor, "skip_monitor"), (CommandFlags.SkipSlowlog, "skip_slowlog"), (CommandFlags.Fast, "fast"),
        (CommandFlags.NoAuth, "no_auth"), (CommandFlags.MayReplicate, "may_replicate"), (CommandFlags.NoMulti, "no_multi"),
        (CommandFlags.AllowBusy, "allow_busy"),
    ];

    private static readonly string[] AclOrder =
    [
        "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo", "stream",
        "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting",
    ];

    private static void WriteCommandInfo(CommandContext ctx, CommandDef d)
    {
        var r = ctx.Reply;
        r.ArrayHeader(10);
        r.Bulk(d.FullName);
        r.Integer(d.Arity);
        var flags = FlagNames.Where(f => d.Has(f.Flag)).Select(f => f.Name).ToList();
        r.SetHeader(flags.Count);
        foreach (var f in flags) r.Simple(f);
        r.Integer(d.FirstKey);
        r.Integer(d.LastKey);
        r.Integer(d.KeyStep);
        // Categories in redis's ACL_CATEGORY bit order (acl.c ACLCommandCategories), whatever order they were declared in.
        var acl = d.AclCategories.OrderBy(a => Array.IndexOf(AclOrder, a) is var i && i < 0 ? int.MaxValue : i).ToList();
        r.SetHeader(acl.Count);
        foreach (var a in acl) r.Simple("@" + a);
        r.ArrayHeader(0);
        r.ArrayHeader(0);
        var subs = d.Subcommands?.Values.OrderBy(s => s.Name).ToList() ?? [];
        r.ArrayHeader(subs.Count);
        foreach (var s in subs) WriteCommandInfo(ctx, s);
    }

    private static void CommandInfo(CommandContext ctx, bool all)
    {
        var table = ctx.Server.Commands;
        if (all)
        {
            var defs = table.All.ToList();
            ctx.Reply.ArrayHeader(defs.Count);
            foreach (var d in defs) WriteCommandInfo(ctx, d);
            return;
        }
        ctx.Reply.ArrayHeader(ctx.Argc - 2);
        for (int i = 2; i < ctx.Argc; i++)
        {
            var d = Resolve(table, ctx.ArgString(i));
            if (d is null) ctx.Reply.Null(); else WriteCommandInfo(ctx, d);
        }
    }

    private static CommandDef? Resolve(CommandTable table, string name)
    {
        var parts = name.Split('|');
        var d = table.Find(parts[0]);
        if (d is not null && parts.Length == 2) d = d.Subcommands?.GetValueOrDefault(parts[1]);
        return d;
    }

    private static void WriteDocs(CommandContext ctx, CommandDef d)
    {
        var r = ctx.Reply;
        var subs = d.Subcommands?.Values.OrderBy(s => s.Name).ToList();
        r.MapHeader(subs is { Count: > 0 } ? 4 : 3);
        r.Bulk("summary"); r.Bulk(d.Summary.Length > 0 ? d.Summary : d.FullName.ToUpperInvariant() + " command");
        r.Bulk("since"); r.Bulk(d.Since);
        r.Bulk("group"); r.Bulk(d.Group);
        if (subs is { Count: > 0 })
        {
            r.Bulk("subcommands");
            r.MapHeader(subs.Count);
            foreach (var s in subs)
            {
                r.Bulk(s.FullName);
                WriteDocs(ctx, s);
            }
        }
    }

    private static void CommandDocs(CommandContext ctx)
    {
        var table = ctx.Server.Commands;
        var defs = ctx.Argc == 2 ? table.All.ToList() : Enumerable.Range(2, ctx.Argc - 2).Select(i => Resolve(table, ctx.ArgString(i))).Where(d => d is not null).Cast<CommandDef>().ToList();
        ctx.Reply.MapHeader(defs.Count);
        foreach (var d in defs)
        {
            ctx.Reply.Bulk(d.FullName);
            WriteDocs(ctx, d);
        }
    }

    private static void CommandList(CommandContext ctx)
    {
        var names = new List<string>();
        foreach (var d in ctx.Server.Commands.All)
        {
            names.Add(d.Name);
            if (d.Subcommands is not null) names.AddRange(d.Subcommands.Values.Select(s => s.FullName));
        }
        if (ctx.Argc == 5 && ctx.ArgIs(2, "FILTERBY") && ctx.ArgIs(3, "PATTERN"))
        {
            var pat = ctx.ArgBytes(4);
            names = names.Where(n => Glob.Match(pat, Encoding.ASCII.GetBytes(n), true)).ToList();
        }
        else if (ctx.Argc != 2)
        {
            ctx.SyntaxError();
            return;
        }
        ctx.Reply.ArrayHeader(names.Count);
        foreach (var n in names) ctx.Reply.Bulk(n);
    }

    private static void CommandGetKeys(CommandContext ctx)
    {
        var d = ctx.Server.Commands.Find(ctx.Arg(2));
        if (d is null)
        {
            ctx.Error("ERR Invalid command specified");
            return;
        }
        int argc = ctx.Argc - 2;
        if ((d.Arity > 0 && argc != d.Arity) || argc < -d.Arity)
        {
            ctx.Error("ERR Invalid number of arguments specified for command");
            return;
        }
        if (d.FirstKey == 0)
        {
            ctx.Error("ERR The command has no key arguments");
            return;
        }
        int last = d.LastKey < 0 ? argc + d.LastKey : d.LastKey;
        var keys = new List<int>();
        for (int i = d.FirstKey; i <= last; i += Math.Max(1, d.KeyStep)) keys.Add(i);
        ctx.Reply.ArrayHeader(keys.Count);
        foreach (var k in keys) ctx.Reply.Bulk(ctx.Arg(k + 2));
    }

    private static void DebugSleep(CommandContext ctx)
    {
        if (!Numbers.TryParseDouble(ctx.Arg(2), out double secs))
        {
            ctx.Error(Errors.NotFloat);
            return;
        }
        // Like redis, DEBUG SLEEP blocks the whole server (we hold the execution lock).
        Thread.Sleep(TimeSpan.FromSeconds(Math.Max(0, secs)));
        ctx.Reply.Ok();
    }

    private static void DebugObject(CommandContext ctx)
    {
        var v = ctx.Lookup(ctx.Arg(2), countStats: false);
        if (v is null)
        {
            ctx.Error(Errors.NoSuchKey);
            return;
        }
        string enc = v is byte[] b ? KeyCommands.StringEncoding(b) : ((KvObject)v).Encoding;
        long len = v is byte[] s ? s.Length : ((KvObject)v).Count;
        ctx.Reply.Simple($"Value at:0x0 refcount:1 encoding:{enc} serializedlength:{len} lru:0 lru_seconds_idle:0");
    }
}
