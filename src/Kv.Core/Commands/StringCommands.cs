using Kv.Server;
using System.Globalization;
using System.Text;
using Kv.Resp;
using Kv.Storage;

namespace Kv.Commands;

/// <summary>String commands (t_string.c in redis 7.0.15), with the same replies, errors and propagation rewrites.</summary>
[CommandGroup]
internal static class StringCommands
{
    private const CommandFlags W = CommandFlags.Write | CommandFlags.DenyOom;
    private const CommandFlags R = CommandFlags.ReadOnly;
    private const CommandFlags F = CommandFlags.Fast;

    public static void Register(CommandTable t)
    {
        t.Add("get", 2, R | F, 1, 1, 1, Get, "string", "read string fast");
        t.Add("set", -3, W, 1, 1, 1, Set, "string", "write string slow");
        t.Add("setnx", 3, W | F, 1, 1, 1, SetNx, "string", "write string fast");
        t.Add("setex", 4, W, 1, 1, 1, ctx => SetEx(ctx, 1000), "string", "write string slow");
        t.Add("psetex", 4, W, 1, 1, 1, ctx => SetEx(ctx, 1), "string", "write string slow");
        t.Add("getset", 3, W | F, 1, 1, 1, GetSet, "string", "write string fast");
        t.Add("getdel", 2, CommandFlags.Write | F, 1, 1, 1, GetDel, "string", "write string fast");
        t.Add("getex", -2, CommandFlags.Write | F, 1, 1, 1, GetEx, "string", "write string fast");
        t.Add("mget", -2, R | F, 1, -1, 1, MGet, "string", "read string fast");
        t.Add("mset", -3, W, 1, -1, 2, MSet, "string", "write string slow");
        t.Add("msetnx", -3, W, 1, -1, 2, MSetNx, "string", "write string slow");
        t.Add("incr", 2, W | F, 1, 1, 1, ctx => IncrDecr(ctx, 1), "string", "write string fast");
        t.Add("decr", 2, W | F, 1, 1, 1, ctx => IncrDecr(ctx, -1), "string", "write string fast");
        t.Add("incrby", 3, W | F, 1, 1, 1, IncrBy, "string", "write string fast");
        t.Add("decrby", 3, W | F, 1, 1, 1, DecrBy, "string", "write string fast");
        t.Add("incrbyfloat", 3, W | F, 1, 1, 1, IncrByFloat, "string", "write string fast");
        t.Add("append", 3, W | F, 1, 1, 1, Append, "string", "write string fast");
        t.Add("strlen", 2, R | F, 1, 1, 1, StrLen, "string", "read string fast");
        t.Add("getrange", 4, R, 1, 1, 1, GetRange, "string", "read string slow");
        t.Add("substr", 4, R, 1, 1, 1, GetRange, "string", "read string slow");
        t.Add("setrange", 4, W, 1, 1, 1, SetRange, "string", "write string slow");
    }

    /// <summary>Looks up a string; replies WRONGTYPE and returns false for another type.</summary>
    internal static bool TryGetString(CommandContext ctx, ReadOnlySpan<byte> key, out byte[]? value)
    {
        var v = ctx.Lookup(key);
        if (v is null) { value = null; return true; }
        if (v is byte[] b) { value = b; return true; }
        value = null;
        ctx.WrongType();
        return false;
    }

    private static void Get(CommandContext ctx)
    {
        if (!TryGetString(ctx, ctx.Arg(1), out var v)) return;
        if (v is null) ctx.Reply.Null(); else ctx.Reply.Bulk(v);
    }

    [Flags]
    private enum SetFlags { None = 0, NX = 1, XX = 2, Get = 4, EX = 8, PX = 16, EXAT = 32, PXAT = 64, KeepTtl = 128, Persist = 256 }

    /// <summary>parseExtendedStringArgumentsOrReply for SET (isSet) and GETEX.</summary>
    private static bool ParseExtended(CommandContext ctx, int start, bool isSet, out SetFlags flags, out int expireArg)
    {
        flags = SetFlags.None;
        expireArg = -1;
        for (int j = start; j < ctx.Argc; j++)
        {
            bool hasNext = j + 1 < ctx.Argc;
            if (isSet && ctx.ArgIs(j, "NX") && (flags & (SetFlags.XX)) == 0) flags |= SetFlags.NX;
            else if (isSet && ctx.ArgIs(j, "XX") && (flags & SetFlags.NX) == 0) flags |= SetFlags.XX;
            else if (isSet && ctx.ArgIs(j, "GET")) flags |= SetFlags.Get;
            else if (ctx.ArgIs(j, "KEEPTTL") && isSet && (flags & (SetFlags.Persist | SetFlags.EX | SetFlags.EXAT | SetFlags.PX | SetFlags.PXAT)) == 0) flags |= SetFlags.KeepTtl;
            else if (!isSet && ctx.ArgIs(j, "PERSIST") && (flags & (SetFlags.EX | SetFlags.EXAT | SetFlags.PX | SetFlags.PXAT | SetFlags.KeepTtl)) == 0) flags |= SetFlags.Persist;
            else if (ctx.ArgIs(j, "EX") && (flags & (SetFlags.KeepTtl | SetFlags.Persist | SetFlags.EXAT | SetFlags.PX | SetFlags.PXAT)) == 0 && hasNext)
            { flags |= SetFlags.EX; expireArg = ++j; }
            else if (ctx.ArgIs(j, "PX") && (flags & (SetFlags.KeepTtl | SetFlags.Persist | SetFlags.EX | SetFlags.EXAT | SetFlags.PXAT)) == 0 && hasNext)
            { flags |= SetFlags.PX; expireArg = ++j; }
            else if (ctx.ArgIs(j, "EXAT") && (flags & (SetFlags.KeepTtl | SetFlags.Persist | SetFlags.EX | SetFlags.PX | SetFlags.PXAT)) == 0 && hasNext)
            { flags |= SetFlags.EXAT; expireArg = ++j; }
            else if (ctx.ArgIs(j, "PXAT") && (flags & (SetFlags.KeepTtl | SetFlags.Persist | SetFlags.EX | SetFlags.EXAT | SetFlags.PX)) == 0 && hasNext)
            { flags |= SetFlags.PXAT; expireArg = ++j; }
            else
            {
                ctx.SyntaxError();
                return false;
            }
        }
        return true;
    }

    /// <summary>getExpireMillisecondsOrReply: absolute ms from an EX/PX/EXAT/PXAT argument.</summary>
    private static bool TryGetExpireMs(CommandContext ctx, int arg, SetFlags unit, string cmdName, out long ms)
    {
        ms = 0;
        if (!RequestParser.TryParseLong(ctx.Arg(arg), out long v))
        {
            ctx.Error(Errors.NotInteger);
            return false;
        }
        if (v <= 0 || ((unit & (SetFlags.EX | SetFlags.EXAT)) != 0 && v > long.MaxValue / 1000))
        {
            ctx.Error(Errors.InvalidExpire(cmdName));
            return false;
        }
        if ((unit & (SetFlags.EX | SetFlags.EXAT)) != 0) v *= 1000;
        if ((unit & (SetFlags.EX | SetFlags.PX)) != 0)
        {
            if (v > long.MaxValue - ctx.NowMs)
            {
                ctx.Error(Errors.InvalidExpire(cmdName));
                return false;
            }
            v += ctx.NowMs;
        }
        ms = v;
        return true;
    }

    private static void Set(CommandContext ctx)
    {
        if (!ParseExtended(ctx, 3, true, out var flags, out int expArg)) return;
        SetGeneric(ctx, flags, expArg, "set");
    }

    private static void SetGeneric(CommandContext ctx, SetFlags flags, int expArg, string cmdName)
    {
        long when = 0;
        bool hasExpire = expArg >= 0;
        if (hasExpire && !TryGetExpireMs(ctx, expArg, flags, cmdName, out when)) return;
        var key = ctx.Arg(1);
        byte[]? old = null;
        if ((flags & SetFlags.Get) != 0)
        {
            if (!TryGetString(ctx, key, out old)) return;
        }
        bool found = ctx.Lookup(key, countStats: false) is not null;
        if (((flags & SetFlags.NX) != 0 && found) || ((flags & SetFlags.XX) != 0 && !found))
        {
            if ((flags & SetFlags.Get) != 0) { if (old is null) ctx.Reply.Null(); else ctx.Reply.Bulk(old); }
            else ctx.Reply.Null();
            return;
        }
        var value = ctx.ArgValue(2);
        if (ctx.Db.Set(key, value, keepTtl: (flags & SetFlags.KeepTtl) != 0)) ctx.Notify(KeyspaceEvents.New, "new", key);
        if (hasExpire) ctx.Db.SetExpire(key, when);
        ctx.KeyModified(key);
        ctx.Notify(KeyspaceEvents.String, "set", key);
        if (hasExpire) ctx.Notify(KeyspaceEvents.Generic, "expire", key);
        ctx.Dirty();
        if (hasExpire && (flags & SetFlags.PXAT) == 0)
            ctx.PropagateAs = ["SET"u8.ToArray(), ctx.ArgBytes(1), value, "PXAT"u8.ToArray(), Numbers.LongToBytes(when)];
        else if ((flags & SetFlags.Get) != 0 && !hasExpire)
        {
            var argv = new List<byte[]>();
            for (int i = 0; i < ctx.Argc; i++) if (!(i >= 3 && ctx.ArgIs(i, "GET"))) argv.Add(ctx.ArgBytes(i));
            ctx.PropagateAs = argv;
        }
        if ((flags & SetFlags.Get) != 0) { if (old is null) ctx.Reply.Null(); else ctx.Reply.Bulk(old); }
        else ctx.Reply.Ok();
    }

    private static void SetNx(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (ctx.Lookup(key, countStats: false) is not null)
        {
            ctx.Reply.Integer(0);
            return;
        }
        if (ctx.Db.Set(key, ctx.ArgValue(2))) ctx.Notify(KeyspaceEvents.New, "new", key);
        ctx.KeyModified(key);
        ctx.Notify(KeyspaceEvents.String, "set", key);
        ctx.Dirty();
        ctx.Reply.Integer(1);
    }

    private static void SetEx(CommandContext ctx, int unitMs)
    {
        // setexCommand/psetexCommand: the TTL is argv[2], the value argv[3].
        var name = unitMs == 1000 ? "setex" : "psetex";
        if (!RequestParser.TryParseLong(ctx.Arg(2), out long v))
        {
            ctx.Error(Errors.NotInteger);
            return;
        }
        if (v <= 0 || (unitMs == 1000 && v > long.MaxValue / 1000))
        {
            ctx.Error(Errors.InvalidExpire(name));
            return;
        }
        v *= unitMs;
        if (v > long.MaxValue - ctx.NowMs)
        {
            ctx.Error(Errors.InvalidExpire(name));
            return;
        }
        long when = v + ctx.NowMs;
        var key = ctx.Arg(1);
        var value = ctx.ArgValue(3);
        ctx.Lookup(key, countStats: false);
        if (ctx.Db.Set(key, value)) ctx.Notify(KeyspaceEvents.New, "new", key);
        ctx.Db.SetExpire(key, when);
        ctx.KeyModified(key);
        ctx.Notify(KeyspaceEvents.String, "set", key);
        ctx.Notify(KeyspaceEvents.Generic, "expire", key);
        ctx.Dirty();
        ctx.PropagateAs = ["SET"u8.ToArray(), ctx.ArgBytes(1), value, "PXAT"u8.ToArray(), Numbers.LongToBytes(when)];
        ctx.Reply.Ok();
    }

    private static void GetSet(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (!TryGetString(ctx, key, out var old)) return;
        if (old is null) ctx.Reply.Null(); else ctx.Reply.Bulk(old);
        if (ctx.Db.Set(key, ctx.ArgValue(2))) ctx.Notify(KeyspaceEvents.New, "new", key);
        ctx.KeyModified(key);
        ctx.Notify(KeyspaceEvents.String, "set", key);
        ctx.Dirty();
        ctx.PropagateAs = ["SET"u8.ToArray(), ctx.ArgBytes(1), ctx.ArgBytes(2)];
    }

    private static void GetDel(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (!TryGetString(ctx, key, out var old)) return;
        if (old is null)
        {
            ctx.Reply.Null();
            return;
        }
        ctx.Reply.Bulk(old);
        ctx.Db.Delete(key);
        ctx.KeyModified(key);
        ctx.Notify(KeyspaceEvents.Generic, "del", key);
        ctx.Dirty();
        ctx.PropagateAs = [ctx.Server.Config.GetBool("lazyfree-lazy-user-del") ? "UNLINK"u8.ToArray() : "DEL"u8.ToArray(), ctx.ArgBytes(1)];
    }

    private static void GetEx(CommandContext ctx)
    {
        if (!ParseExtended(ctx, 2, false, out var flags, out int expArg)) return;
        long when = 0;
        if (expArg >= 0 && !TryGetExpireMs(ctx, expArg, flags, "getex", out when)) return;
        var key = ctx.Arg(1);
        if (!TryGetString(ctx, key, out var v)) return;
        if (v is null)
        {
            ctx.Reply.Null();
            return;
        }
        ctx.Reply.Bulk(v);
        if (expArg >= 0)
        {
            if (when <= ctx.NowMs && !ctx.Server.IsReplica && !ctx.Server.Loading)
            {
                ctx.Db.Delete(key);
                ctx.Notify(KeyspaceEvents.Generic, "del", key);
                ctx.PropagateAs = [ctx.Server.Config.GetBool("lazyfree-lazy-expire") ? "UNLINK"u8.ToArray() : "DEL"u8.ToArray(), ctx.ArgBytes(1)];
            }
            else
            {
                ctx.Db.SetExpire(key, when);
                ctx.Notify(KeyspaceEvents.Generic, "expire", key);
                ctx.PropagateAs = ["PEXPIREAT"u8.ToArray(), ctx.ArgBytes(1), Numbers.LongToBytes(when)];
            }
            ctx.KeyModified(key);
            ctx.Dirty();
        }
        else if ((flags & SetFlags.Persist) != 0)
        {
            if (ctx.Db.RemoveExpire(key))
            {
                ctx.PropagateAs = ["PERSIST"u8.ToArray(), ctx.ArgBytes(1)];
                ctx.KeyModified(key);
                ctx.Notify(KeyspaceEvents.Generic, "persist", key);
                ctx.Dirty();
            }
        }
    }

    private static void MGet(CommandContext ctx)
    {
        ctx.Reply.ArrayHeader(ctx.Argc - 1);
        for (int i = 1; i < ctx.Argc; i++)
        {
            if (ctx.Lookup(ctx.Arg(i)) is byte[] b) ctx.Reply.Bulk(b);
            else ctx.Reply.Null();
        }
    }

    private static void MSet(CommandContext ctx)
    {
        if (ctx.Argc % 2 == 0)
        {
            ctx.WrongArity();
            return;
        }
        for (int i = 1; i < ctx.Argc; i += 2)
        {
            ctx.Lookup(ctx.Arg(i), countStats: false);
            if (ctx.Db.Set(ctx.Arg(i), ctx.ArgValue(i + 1))) ctx.Notify(KeyspaceEvents.New, "new", ctx.Arg(i));
            ctx.KeyModified(ctx.Arg(i));
            ctx.Notify(KeyspaceEvents.String, "set", ctx.Arg(i));
        }
        ctx.Dirty((ctx.Argc - 1) / 2);
        ctx.Reply.Ok();
    }

    private static void MSetNx(CommandContext ctx)
    {
        if (ctx.Argc % 2 == 0)
        {
            ctx.WrongArity();
            return;
        }
        for (int i = 1; i < ctx.Argc; i += 2)
        {
            if (ctx.Lookup(ctx.Arg(i), countStats: false) is not null)
            {
                ctx.Reply.Integer(0);
                return;
            }
        }
        for (int i = 1; i < ctx.Argc; i += 2)
        {
            if (ctx.Db.Set(ctx.Arg(i), ctx.ArgValue(i + 1))) ctx.Notify(KeyspaceEvents.New, "new", ctx.Arg(i));
            ctx.KeyModified(ctx.Arg(i));
            ctx.Notify(KeyspaceEvents.String, "set", ctx.Arg(i));
        }
        ctx.Dirty((ctx.Argc - 1) / 2);
        ctx.Reply.Integer(1);
    }

    private static void IncrBy(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long incr)) return;
        IncrDecr(ctx, incr);
    }

    private static void DecrBy(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long incr)) return;
        if (incr == long.MinValue)
        {
            ctx.Error("ERR decrement would overflow");
            return;
        }
        IncrDecr(ctx, -incr);
    }

    private static void IncrDecr(CommandContext ctx, long incr)
    {
        var key = ctx.Arg(1);
        var o = ctx.LookupWrite(key);
        long value = 0;
        if (o is not null)
        {
            if (o is not byte[] b)
            {
                ctx.WrongType();
                return;
            }
            if (!RequestParser.TryParseLong(b, out value))
            {
                ctx.Error(Errors.NotInteger);
                return;
            }
        }
        if ((incr < 0 && value < 0 && incr < long.MinValue - value) || (incr > 0 && value > 0 && incr > long.MaxValue - value))
        {
            ctx.Error(Errors.Overflow);
            return;
        }
        value += incr;
        if (ctx.Db.Set(key, KvHeap.FromLong(value), keepTtl: true)) ctx.Notify(KeyspaceEvents.New, "new", key);
        ctx.KeyModified(key);
        ctx.Notify(KeyspaceEvents.String, "incrby", key);
        ctx.Dirty();
        ctx.Reply.Integer(value);
    }

    /// <summary>
    /// INCRBYFLOAT/HINCRBYFLOAT arithmetic in redis's 80-bit long double (<see cref="LongDouble"/>): both texts parsed
    /// with string2ld rules, added, and printed as ld2string(LD_STR_HUMAN). Returns null when the sum is NaN or
    /// infinite (the caller replies "increment would produce NaN or Infinity"); sets the flags for unparsable input.
    /// </summary>
    internal static string? AddFloats(ReadOnlySpan<byte> current, ReadOnlySpan<byte> incr, out bool curInvalid, out bool incrInvalid)
    {
        curInvalid = incrInvalid = false;
        if (!LongDouble.TryParse(current, out var a)) { curInvalid = true; return null; }
        if (!LongDouble.TryParse(incr, out var b)) { incrInvalid = true; return null; }
        var r = a + b;
        if (r.IsNaN || r.IsInfinity) return null;
        return r.ToHumanString();
    }

    private static void IncrByFloat(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        var o = ctx.LookupWrite(key);
        byte[] cur = "0"u8.ToArray();
        if (o is not null)
        {
            if (o is not byte[] b)
            {
                ctx.WrongType();
                return;
            }
            cur = b;
        }
        var res = AddFloats(cur, ctx.Arg(2), out bool curBad, out bool incrBad);
        if (curBad || incrBad)
        {
            ctx.Error(Errors.NotFloat);
            return;
        }
        if (res is null)
        {
            ctx.Error("ERR increment would produce NaN or Infinity");
            return;
        }
        var bytes = KvHeap.Alloc(res.Length);
        Encoding.ASCII.GetBytes(res, bytes);
        if (ctx.Db.Set(key, bytes, keepTtl: true)) ctx.Notify(KeyspaceEvents.New, "new", key);
        ctx.KeyModified(key);
        ctx.Notify(KeyspaceEvents.String, "incrbyfloat", key);
        ctx.Dirty();
        ctx.Reply.Bulk(bytes);
        ctx.PropagateAs = ["SET"u8.ToArray(), ctx.ArgBytes(1), bytes, "KEEPTTL"u8.ToArray()];
    }

    private static bool CheckStringLength(CommandContext ctx, long size)
    {
        if (!ctx.Client.IsMaster && size > ctx.Server.Config.GetLong("proto-max-bulk-len"))
        {
            ctx.Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
            return false;
        }
        return true;
    }

    private static void Append(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        var o = ctx.LookupWrite(key);
        byte[] nv;
        if (o is null) nv = ctx.ArgValue(2);
        else
        {
            if (o is not byte[] b)
            {
                ctx.WrongType();
                return;
            }
            if (!CheckStringLength(ctx, (long)b.Length + ctx.Arg(2).Length)) return;
            nv = KvHeap.Alloc(b.Length + ctx.Arg(2).Length);
            b.CopyTo(nv, 0);
            ctx.Arg(2).CopyTo(nv.AsSpan(b.Length));
        }
        if (ctx.Db.Set(key, nv, keepTtl: true)) ctx.Notify(KeyspaceEvents.New, "new", key);
        ctx.KeyModified(key);
        ctx.Notify(KeyspaceEvents.String, "append", key);
        ctx.Dirty();
        ctx.Reply.Integer(nv.Length);
    }

    private static void StrLen(CommandContext ctx)
    {
        if (!TryGetString(ctx, ctx.Arg(1), out var v)) return;
        ctx.Reply.Integer(v?.Length ?? 0);
    }

    private static void GetRange(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long start) || !ctx.TryGetLong(3, out long end)) return;
        if (!TryGetString(ctx, ctx.Arg(1), out var v)) return;
        if (v is null)
        {
            ctx.Reply.Bulk(ReadOnlySpan<byte>.Empty);
            return;
        }
        long len = v.Length;
        if (start < 0 && end < 0 && start > end)
        {
            ctx.Reply.Bulk(ReadOnlySpan<byte>.Empty);
            return;
        }
        if (start < 0) start = len + start;
        if (end < 0) end = len + end;
        if (start < 0) start = 0;
        if (end < 0) end = 0;
        if (end >= len) end = len - 1;
        if (start > end || len == 0)
        {
            ctx.Reply.Bulk(ReadOnlySpan<byte>.Empty);
            return;
        }
        ctx.Reply.Bulk(v.AsSpan((int)start, (int)(end - start + 1)));
    }

    private static void SetRange(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long offset)) return;
        if (offset < 0)
        {
            ctx.Error("ERR offset is out of range");
            return;
        }
        var key = ctx.Arg(1);
        var val = ctx.Arg(3);
        var o = ctx.LookupWrite(key);
        if (o is null)
        {
            if (val.Length == 0)
            {
                ctx.Reply.Integer(0);
                return;
            }
            if (!CheckStringLength(ctx, offset + val.Length)) return;
            var nv = KvHeap.AllocZeroed((int)(offset + val.Length));
            val.CopyTo(nv.AsSpan((int)offset));
            if (ctx.Db.Set(key, nv)) ctx.Notify(KeyspaceEvents.New, "new", key);
            ctx.KeyModified(key);
            ctx.Notify(KeyspaceEvents.String, "setrange", key);
            ctx.Dirty();
            ctx.Reply.Integer(nv.Length);
            return;
        }
        if (o is not byte[] b)
        {
            ctx.WrongType();
            return;
        }
        if (val.Length == 0)
        {
            ctx.Reply.Integer(b.Length);
            return;
        }
        if (!CheckStringLength(ctx, offset + val.Length)) return;
        var res = KvHeap.AllocZeroed((int)Math.Max(b.Length, offset + val.Length));
        b.CopyTo(res, 0);
        val.CopyTo(res.AsSpan((int)offset));
        if (ctx.Db.Set(key, res, keepTtl: true)) ctx.Notify(KeyspaceEvents.New, "new", key);
        ctx.KeyModified(key);
        ctx.Notify(KeyspaceEvents.String, "setrange", key);
        ctx.Dirty();
        ctx.Reply.Integer(res.Length);
    }
}
