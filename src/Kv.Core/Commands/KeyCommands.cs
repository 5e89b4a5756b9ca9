using Kv.Resp;
using Kv.Server;
using Kv.Storage;

namespace Kv.Commands;

/// <summary>Generic key commands (db.c, expire.c, object.c in redis 7.0.15).</summary>
[CommandGroup]
internal static class KeyCommands
{
    private const CommandFlags R = CommandFlags.ReadOnly;
    private const CommandFlags F = CommandFlags.Fast;
    private const CommandFlags W = CommandFlags.Write;

    public static void Register(CommandTable t)
    {
        t.Add("del", -2, W, 1, -1, 1, ctx => Del(ctx, false), "generic", "keyspace write slow");
        t.Add("unlink", -2, W | F, 1, -1, 1, ctx => Del(ctx, true), "generic", "keyspace write fast");
        t.Add("exists", -2, R | F, 1, -1, 1, Exists, "generic", "keyspace read fast");
        t.Add("type", 2, R | F, 1, 1, 1, Type, "generic", "keyspace read fast");
        t.Add("rename", 3, W, 1, 2, 1, ctx => Rename(ctx, false), "generic", "keyspace write slow");
        t.Add("renamenx", 3, W | F, 1, 2, 1, ctx => Rename(ctx, true), "generic", "keyspace write fast");
        t.Add("move", 3, W | F, 1, 1, 1, Move, "generic", "keyspace write fast");
        t.Add("copy", -3, W | CommandFlags.DenyOom, 1, 2, 1, Copy, "generic", "keyspace write slow");
        t.Add("keys", 2, R, 0, 0, 0, Keys, "generic", "keyspace read slow dangerous");
        t.Add("scan", -2, R, 0, 0, 0, Scan, "generic", "keyspace read slow");
        t.Add("randomkey", 1, R, 0, 0, 0, RandomKey, "generic", "keyspace read slow");
        t.Add("touch", -2, R | F, 1, -1, 1, Exists, "generic", "keyspace read fast");
        t.Add("expire", -3, W | F, 1, 1, 1, ctx => Expire(ctx, false, true), "generic", "keyspace write fast");
        t.Add("pexpire", -3, W | F, 1, 1, 1, ctx => Expire(ctx, false, false), "generic", "keyspace write fast");
        t.Add("expireat", -3, W | F, 1, 1, 1, ctx => Expire(ctx, true, true), "generic", "keyspace write fast");
        t.Add("pexpireat", -3, W | F, 1, 1, 1, ctx => Expire(ctx, true, false), "generic", "keyspace write fast");
        t.Add("ttl", 2, R | F, 1, 1, 1, ctx => Ttl(ctx, false, false), "generic", "keyspace read fast");
        t.Add("pttl", 2, R | F, 1, 1, 1, ctx => Ttl(ctx, true, false), "generic", "keyspace read fast");
        t.Add("expiretime", 2, R | F, 1, 1, 1, ctx => Ttl(ctx, false, true), "generic", "keyspace read fast");
        t.Add("pexpiretime", 2, R | F, 1, 1, 1, ctx => Ttl(ctx, true, true), "generic", "keyspace read fast");
        t.Add("persist", 2, W | F, 1, 1, 1, Persist, "generic", "keyspace write fast");
        var obj = t.Add("object", -2, CommandFlags.None, 0, 0, 0, null, "generic", "slow");
        obj.Sub(CommandTable.SubDef("encoding", 3, R, ctx => Object(ctx, "encoding"), 2, 2, 1));
        obj.Sub(CommandTable.SubDef("refcount", 3, R, ctx => Object(ctx, "refcount"), 2, 2, 1));
        obj.Sub(CommandTable.SubDef("idletime", 3, R, ctx => Object(ctx, "idletime"), 2, 2, 1));
        obj.Sub(CommandTable.SubDef("freq", 3, R, ctx => Object(ctx, "freq"), 2, 2, 1));
        obj.Sub(CommandTable.SubDef("help", 2, CommandFlags.Loading | CommandFlags.Stale, ctx => ConnectionCommands.Help(ctx, "OBJECT", [
            "ENCODING <key>", "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>", "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>", "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>", "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ])));
    }

    private static void Del(CommandContext ctx, bool unlink)
    {
        long n = 0;
        for (int i = 1; i < ctx.Argc; i++)
        {
            var key = ctx.Arg(i);
            ctx.ExpireIfNeeded(ctx.Db, key);
            if (ctx.Db.Delete(key))
            {
                ctx.KeyModified(key);
                ctx.Notify(KeyspaceEvents.Generic, "del", key);
                ctx.Dirty();
                n++;
            }
        }
        ctx.Reply.Integer(n);
    }

    private static void Exists(CommandContext ctx)
    {
        long n = 0;
        for (int i = 1; i < ctx.Argc; i++)
            if (ctx.Lookup(ctx.Arg(i), countStats: true) is not null) n++;
        ctx.Reply.Integer(n);
    }

    private static void Type(CommandContext ctx)
    {
        var v = ctx.Lookup(ctx.Arg(1), countStats: true);
        ctx.Reply.Simple(v is null ? "none" : KvObject.TypeName(v));
    }

    private static void Rename(CommandContext ctx, bool nx)
    {
        var src = ctx.Arg(1);
        var dst = ctx.Arg(2);
        bool same = src.SequenceEqual(dst);
        var v = ctx.Lookup(src, countStats: false);
        if (v is null)
        {
            ctx.Error(Errors.NoSuchKey);
            return;
        }
        if (same)
        {
            if (nx) ctx.Reply.Integer(0); else ctx.Reply.Ok();
            return;
        }
        long expire = ctx.Db.GetExpire(src);
        if (ctx.Lookup(dst, countStats: false) is not null)
        {
            if (nx)
            {
                ctx.Reply.Integer(0);
                return;
            }
            ctx.Db.Delete(dst);
        }
        ctx.Db.Delete(src);
        ctx.Db.Set(dst, v);
        ctx.SignalKeyAdded(ctx.Db, dst, v);
        ctx.Notify(KeyspaceEvents.New, "new", dst);
        if (expire >= 0) ctx.Db.SetExpire(dst, expire);
        ctx.KeyModified(src);
        ctx.KeyModified(dst);
        ctx.Notify(KeyspaceEvents.Generic, "rename_from", src);
        ctx.Notify(KeyspaceEvents.Generic, "rename_to", dst);
        ctx.Dirty();
        if (nx) ctx.Reply.Integer(1); else ctx.Reply.Ok();
    }

    private static void Move(CommandContext ctx)
    {
        if (!RequestParser.TryParseLong(ctx.Arg(2), out long dbid) || dbid < int.MinValue || dbid > int.MaxValue)
        {
            ctx.Error(Errors.NotInteger);
            return;
        }
        if (dbid < 0 || dbid >= ctx.Server.Databases.Length)
        {
            ctx.Error(Errors.DbIndexOutOfRange);
            return;
        }
        var src = ctx.Db;
        var dst = ctx.Server.Databases[dbid];
        if (src == dst)
        {
            ctx.Error(Errors.SameObject);
            return;
        }
        var key = ctx.Arg(1);
        var v = ctx.Lookup(key, countStats: false);
        if (v is null)
        {
            ctx.Reply.Integer(0);
            return;
        }
        long expire = src.GetExpire(key);
        if (ctx.ExpireIfNeeded(dst, key) is false && dst.Get(key) is not null)
        {
            ctx.Reply.Integer(0);
            return;
        }
        dst.Set(key, v);
        ctx.SignalKeyAdded(dst, key, v);
        ctx.Notify(KeyspaceEvents.New, "new", key, dst);
        if (expire >= 0) dst.SetExpire(key, expire);
        src.Delete(key);
        ctx.KeyModified(src, key);
        ctx.KeyModified(dst, key);
        ctx.Notify(KeyspaceEvents.Generic, "move_from", key, src);
        ctx.Notify(KeyspaceEvents.Generic, "move_to", key, dst);
        ctx.Dirty();
        ctx.Reply.Integer(1);
    }

    private static void Copy(CommandContext ctx)
    {
        var srcDb = ctx.Db;
        var dstDb = srcDb;
        bool replace = false;
        for (int j = 3; j < ctx.Argc; j++)
        {
            if (ctx.ArgIs(j, "REPLACE")) replace = true;
            else if (ctx.ArgIs(j, "DB") && j + 1 < ctx.Argc)
            {
                if (!RequestParser.TryParseLong(ctx.Arg(j + 1), out long id) || id < int.MinValue || id > int.MaxValue)
                {
                    ctx.Error(Errors.NotInteger);
                    return;
                }
                if (id < 0 || id >= ctx.Server.Databases.Length)
                {
                    ctx.Error(Errors.DbIndexOutOfRange);
                    return;
                }
                dstDb = ctx.Server.Databases[id];
                j++;
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        var src = ctx.Arg(1);
        var dst = ctx.Arg(2);
        if (srcDb == dstDb && src.SequenceEqual(dst))
        {
            ctx.Error(Errors.SameObject);
            return;
        }
        var v = ctx.Lookup(src, countStats: true);
        if (v is null)
        {
            ctx.Reply.Integer(0);
            return;
        }
        bool exists = !ctx.ExpireIfNeeded(dstDb, dst) && dstDb.Get(dst) is not null;
        if (exists)
        {
            if (!replace)
            {
                ctx.Reply.Integer(0);
                return;
            }
            dstDb.Delete(dst);
        }
        long expire = srcDb.GetExpire(src);
        object copy = v is KvObject o ? o.Clone() : v;
        dstDb.Set(dst, copy);
        ctx.SignalKeyAdded(dstDb, dst, copy);
        ctx.Notify(KeyspaceEvents.New, "new", dst, dstDb);
        if (expire >= 0) dstDb.SetExpire(dst, expire);
        ctx.KeyModified(dstDb, dst);
        ctx.Notify(KeyspaceEvents.Generic, "copy_to", dst, dstDb);
        ctx.Dirty();
        ctx.Reply.Integer(1);
    }

    private static bool IsExpired(CommandContext ctx, RedisDb db, byte[] key)
    {
        long when = db.GetExpire(key);
        return when >= 0 && ctx.NowMs > when;
    }

    private static void Keys(CommandContext ctx)
    {
        var pattern = ctx.Arg(1);
        bool all = pattern.Length == 1 && pattern[0] == '*';
        var db = ctx.Db;
        var res = new List<byte[]>();
        foreach (var (key, _) in db.Main.Entries())
        {
            if (!all && !Glob.Match(pattern, key, false)) continue;
            if (IsExpired(ctx, db, key)) continue;
            res.Add(key);
        }
        ctx.Reply.ArrayHeader(res.Count);
        foreach (var k in res) ctx.Reply.Bulk(k);
    }

    /// <summary>
    /// Parses a SCAN cursor (an unsigned 64-bit decimal), replying "ERR invalid cursor" on failure.
    /// </summary>
    internal static bool TryParseCursor(CommandContext ctx, int arg, out ulong cursor)
    {
        // As parseScanCursorOrReply: strtoul(s, &eptr, 10), rejected on a leading space, trailing bytes or ERANGE.
        // strtoul takes an optional sign ("-1" wraps to 2^64-1) and turns "" into 0.
        var s = ctx.ArgBytes(arg);
        cursor = 0;
        bool ok = true;
        if (s.Length > 0)
        {
            int i = 0;
            bool neg = false;
            if (s[0] is (byte)'+' or (byte)'-') { neg = s[0] == (byte)'-'; i = 1; }
            if (i >= s.Length) ok = false;
            for (; ok && i < s.Length; i++)
            {
                uint d = (uint)(s[i] - '0');
                if (d > 9 || cursor > (ulong.MaxValue - d) / 10) { ok = false; break; }
                cursor = cursor * 10 + d;
            }
            if (neg) cursor = unchecked(0UL - cursor);
        }
        if (!ok)
        {
            ctx.Error("ERR invalid cursor");
            return false;
        }
        return true;
    }

    /// <summary>Parses SCAN options starting at <paramref name="start"/>: MATCH, COUNT, and TYPE when <paramref name="allowType"/>.</summary>
    internal static bool TryParseScanOptions(CommandContext ctx, int start, bool allowType, out byte[]? match, out long count, out string? type)
    {
        match = null;
        count = 10;
        type = null;
        for (int i = start; i < ctx.Argc; i += 2)
        {
            if (i + 1 >= ctx.Argc)
            {
                ctx.SyntaxError();
                return false;
            }
            if (ctx.ArgIs(i, "COUNT"))
            {
                if (!ctx.TryGetLong(i + 1, out count)) return false;
                if (count < 1)
                {
                    ctx.SyntaxError();
                    return false;
                }
            }
            else if (ctx.ArgIs(i, "MATCH"))
            {
                match = ctx.ArgBytes(i + 1);
                if (match.Length == 1 && match[0] == '*') match = null;
            }
            else if (allowType && ctx.ArgIs(i, "TYPE")) type = ctx.ArgString(i + 1).ToLowerInvariant();
            else
            {
                ctx.SyntaxError();
                return false;
            }
        }
        return true;
    }

    private static void Scan(CommandContext ctx)
    {
        if (!TryParseCursor(ctx, 1, out ulong cursor)) return;
        if (!TryParseScanOptions(ctx, 2, true, out var match, out long count, out var type)) return;
        var db = ctx.Db;
        var keys = new List<byte[]>();
        long maxIterations = count * 10;
        do
        {
            cursor = db.Main.Scan(cursor, (k, v) =>
            {
                if (match is not null && !Glob.Match(match, k, false)) return;
                if (type is not null && KvObject.TypeName(v) != type) return;
                keys.Add(k);
            });
        } while (cursor != 0 && maxIterations-- > 0 && keys.Count < count);
        keys.RemoveAll(k => IsExpiredAndDelete(ctx, db, k));
        ctx.Reply.ArrayHeader(2);
        ctx.Reply.Bulk(cursor.ToString());
        ctx.Reply.ArrayHeader(keys.Count);
        foreach (var k in keys) ctx.Reply.Bulk(k);
    }

    private static bool IsExpiredAndDelete(CommandContext ctx, RedisDb db, byte[] key) => ctx.ExpireIfNeeded(db, key);

    private static void RandomKey(CommandContext ctx)
    {
        var db = ctx.Db;
        var rng = Random.Shared;
        for (int tries = 0; tries < 100 && db.Count > 0; tries++)
        {
            if (!db.Main.TryGetRandom(rng, out var key, out _)) break;
            if (ctx.ExpireIfNeeded(db, key)) continue;
            ctx.Reply.Bulk(key);
            return;
        }
        ctx.Reply.Null();
    }

    private static void Expire(CommandContext ctx, bool absolute, bool seconds)
    {
        var name = ctx.Command.FullName;
        if (!RequestParser.TryParseLong(ctx.Arg(2), out long when))
        {
            ctx.Error(Errors.NotInteger);
            return;
        }
        bool nx = false, xx = false, gt = false, lt = false;
        for (int j = 3; j < ctx.Argc; j++)
        {
            if (ctx.ArgIs(j, "NX")) nx = true;
            else if (ctx.ArgIs(j, "XX")) xx = true;
            else if (ctx.ArgIs(j, "GT")) gt = true;
            else if (ctx.ArgIs(j, "LT")) lt = true;
            else
            {
                ctx.Error($"ERR Unsupported option {ctx.ArgString(j)}");
                return;
            }
        }
        if (nx && (xx || gt || lt))
        {
            ctx.Error("ERR NX and XX, GT or LT options at the same time are not compatible");
            return;
        }
        if (gt && lt)
        {
            ctx.Error("ERR GT and LT options at the same time are not compatible");
            return;
        }
        if (seconds)
        {
            if (when > long.MaxValue / 1000 || when < long.MinValue / 1000)
            {
                ctx.Error(Errors.InvalidExpire(name));
                return;
            }
            when *= 1000;
        }
        if (!absolute)
        {
            if ((when > 0 && ctx.NowMs > long.MaxValue - when) || (when < 0 && ctx.NowMs < long.MinValue - when))
            {
                ctx.Error(Errors.InvalidExpire(name));
                return;
            }
            when += ctx.NowMs;
        }
        var key = ctx.Arg(1);
        if (ctx.Lookup(key, countStats: false) is null)
        {
            ctx.Reply.Integer(0);
            return;
        }
        long current = ctx.Db.GetExpire(key);
        if ((nx && current != -1) || (xx && current == -1) || (gt && (current == -1 || when <= current)) || (lt && current != -1 && when >= current))
        {
            ctx.Reply.Integer(0);
            return;
        }
        if (when <= ctx.NowMs && !ctx.Server.Loading && !ctx.Server.IsReplica)
        {
            ctx.Db.Delete(key);
            ctx.KeyModified(key);
            ctx.Notify(KeyspaceEvents.Generic, "del", key);
            ctx.Dirty();
            ctx.PropagateAs = [ctx.Server.Config.GetBool("lazyfree-lazy-expire") ? "UNLINK"u8.ToArray() : "DEL"u8.ToArray(), ctx.ArgBytes(1)];
            ctx.Reply.Integer(1);
            return;
        }
        ctx.Db.SetExpire(key, when);
        ctx.KeyModified(key);
        ctx.Notify(KeyspaceEvents.Generic, "expire", key);
        ctx.Dirty();
        if (!(absolute && !seconds))
        {
            var argv = new List<byte[]> { "PEXPIREAT"u8.ToArray(), ctx.ArgBytes(1), Numbers.LongToBytes(when) };
            for (int j = 3; j < ctx.Argc; j++) argv.Add(ctx.ArgBytes(j));
            ctx.PropagateAs = argv;
        }
        ctx.Reply.Integer(1);
    }

    private static void Ttl(CommandContext ctx, bool ms, bool absolute)
    {
        var key = ctx.Arg(1);
        if (ctx.Lookup(key, countStats: true) is null)
        {
            ctx.Reply.Integer(-2);
            return;
        }
        long when = ctx.Db.GetExpire(key);
        if (when < 0)
        {
            ctx.Reply.Integer(-1);
            return;
        }
        if (absolute)
        {
            ctx.Reply.Integer(ms ? when : (when + 500) / 1000); // ttlGenericCommand rounds EXPIRETIME too
            return;
        }
        long ttl = Math.Max(0, when - ctx.NowMs);
        ctx.Reply.Integer(ms ? ttl : (ttl + 500) / 1000);
    }

    private static void Persist(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (ctx.Lookup(key, countStats: false) is null || !ctx.Db.RemoveExpire(key))
        {
            ctx.Reply.Integer(0);
            return;
        }
        ctx.KeyModified(key);
        ctx.Notify(KeyspaceEvents.Generic, "persist", key);
        ctx.Dirty();
        ctx.Reply.Integer(1);
    }

    /// <summary>OBJECT ENCODING of a string value as 7.0.15 would report it after SET (int, embstr or raw).</summary>
    public static string StringEncoding(byte[] v)
    {
        if (v.Length <= 20 && RequestParser.TryParseLong(v, out _)) return "int";
        return v.Length <= 44 ? "embstr" : "raw";
    }

    private static void Object(CommandContext ctx, string sub)
    {
        var v = ctx.Lookup(ctx.Arg(2), countStats: true, notifyMiss: false);
        if (v is null)
        {
            ctx.Reply.Null();
            return;
        }
        switch (sub)
        {
            case "encoding":
                ctx.Reply.Bulk(v is byte[] b ? StringEncoding(b) : ((KvObject)v).Encoding);
                break;
            case "refcount":
                // Integers 0..9999 are shared objects in redis (OBJ_SHARED_REFCOUNT = INT_MAX).
                ctx.Reply.Integer(v is byte[] s && RequestParser.TryParseLong(s, out long n) && n is >= 0 and < 10000 && s.Length <= 20 ? int.MaxValue : 1);
                break;
            case "idletime":
                if (ctx.Server.Config.Get("maxmemory-policy").Contains("lfu"))
                {
                    ctx.Error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
                    return;
                }
                ctx.Reply.Integer(0);
                break;
            case "freq":
                if (!ctx.Server.Config.Get("maxmemory-policy").Contains("lfu"))
                {
                    ctx.Error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
                    return;
                }
                ctx.Reply.Integer(0);
                break;
        }
    }
}
