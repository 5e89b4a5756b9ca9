using Kv.Server;
using Kv.Storage;
using static Kv.Commands.CollectionHelpers;

namespace Kv.Commands;

/// <summary>
/// Hash commands (t_hash.c in redis 7.0.15): replies, error texts, listpack-to-hashtable conversion points
/// (hashTypeTryConversion before HSET/HSETNX, length check after each insert), server.dirty accounting and the
/// HINCRBYFLOAT -> HSET propagation rewrite.
/// </summary>
[CommandGroup]
internal static class HashCommands
{
    private const CommandFlags W = CommandFlags.Write;
    private const CommandFlags D = CommandFlags.DenyOom;
    private const CommandFlags R = CommandFlags.ReadOnly;
    private const CommandFlags F = CommandFlags.Fast;

    public static void Register(CommandTable t)
    {
        t.Add("hset", -4, W | D | F, 1, 1, 1, HSet, "hash", "write hash fast");
        t.Add("hmset", -4, W | D | F, 1, 1, 1, HSet, "hash", "write hash fast");
        t.Add("hsetnx", 4, W | D | F, 1, 1, 1, HSetNx, "hash", "write hash fast");
        t.Add("hget", 3, R | F, 1, 1, 1, HGet, "hash", "read hash fast");
        t.Add("hmget", -3, R | F, 1, 1, 1, HMGet, "hash", "read hash fast");
        t.Add("hgetall", 2, R, 1, 1, 1, ctx => GetAll(ctx, true, true), "hash", "read hash slow");
        t.Add("hkeys", 2, R, 1, 1, 1, ctx => GetAll(ctx, true, false), "hash", "read hash slow");
        t.Add("hvals", 2, R, 1, 1, 1, ctx => GetAll(ctx, false, true), "hash", "read hash slow");
        t.Add("hdel", -3, W | F, 1, 1, 1, HDel, "hash", "write hash fast");
        t.Add("hexists", 3, R | F, 1, 1, 1, HExists, "hash", "read hash fast");
        t.Add("hlen", 2, R | F, 1, 1, 1, HLen, "hash", "read hash fast");
        t.Add("hstrlen", 3, R | F, 1, 1, 1, HStrLen, "hash", "read hash fast");
        t.Add("hincrby", 4, W | D | F, 1, 1, 1, HIncrBy, "hash", "write hash fast");
        t.Add("hincrbyfloat", 4, W | D | F, 1, 1, 1, HIncrByFloat, "hash", "write hash fast");
        t.Add("hrandfield", -2, R, 1, 1, 1, HRandField, "hash", "read hash slow");
        t.Add("hscan", -3, R, 1, 1, 1, HScan, "hash", "read hash slow");
    }

    /// <summary>hashTypeLookupWriteOrCreate.</summary>
    private static bool LookupWriteOrCreate(CommandContext ctx, out KvHash h)
    {
        var key = ctx.Arg(1);
        if (!TryGet<KvHash>(ctx, key, true, out var o))
        {
            h = null!;
            return false;
        }
        if (o is null)
        {
            o = new KvHash();
            ctx.Db.Set(key, o);
            ctx.Notify(KeyspaceEvents.New, "new", key);
        }
        h = o;
        return true;
    }

    /// <summary>hashTypeTryConversion over arguments start..end.</summary>
    private static void TryConversion(CommandContext ctx, KvHash h, int start, int end, TypeLimits lim)
    {
        if (!h.IsPacked) return;
        for (int i = start; i <= end; i++)
        {
            if (ctx.Arg(i).Length > lim.HashValue)
            {
                h.ToHashtable();
                return;
            }
        }
    }

    private static void HSet(CommandContext ctx)
    {
        if (ctx.Argc % 2 == 1)
        {
            ctx.WrongArity();
            return;
        }
        if (!LookupWriteOrCreate(ctx, out var h)) return;
        var lim = TypeLimits.Of(ctx);
        TryConversion(ctx, h, 2, ctx.Argc - 1, lim);
        long created = 0;
        for (int i = 2; i < ctx.Argc; i += 2)
            if (h.Set(ctx.Arg(i), ctx.ArgBytes(i + 1), lim.HashEntries, lim.HashValue)) created++;
        if (ctx.ArgIs(0, "hset")) ctx.Reply.Integer(created);
        else ctx.Reply.Ok();
        ctx.KeyModified(ctx.Arg(1));
        ctx.Notify(KeyspaceEvents.Hash, "hset", ctx.Arg(1));
        ctx.Dirty((ctx.Argc - 2) / 2);
    }

    private static void HSetNx(CommandContext ctx)
    {
        if (!LookupWriteOrCreate(ctx, out var h)) return;
        if (h.Contains(ctx.Arg(2)))
        {
            ctx.Reply.Integer(0);
            return;
        }
        var lim = TypeLimits.Of(ctx);
        TryConversion(ctx, h, 2, 3, lim);
        h.Set(ctx.Arg(2), ctx.ArgBytes(3), lim.HashEntries, lim.HashValue);
        ctx.Reply.Integer(1);
        ctx.KeyModified(ctx.Arg(1));
        ctx.Notify(KeyspaceEvents.Hash, "hset", ctx.Arg(1));
        ctx.Dirty();
    }

    private static void HGet(CommandContext ctx)
    {
        if (!TryGet<KvHash>(ctx, ctx.Arg(1), false, out var h)) return;
        if (h is not null && h.TryGet(ctx.Arg(2), out var v)) ctx.Reply.Bulk(v);
        else ctx.Reply.Null();
    }

    private static void HMGet(CommandContext ctx)
    {
        if (!TryGet<KvHash>(ctx, ctx.Arg(1), false, out var h)) return;
        ctx.Reply.ArrayHeader(ctx.Argc - 2);
        for (int i = 2; i < ctx.Argc; i++)
        {
            if (h is not null && h.TryGet(ctx.Arg(i), out var v)) ctx.Reply.Bulk(v);
            else ctx.Reply.Null();
        }
    }

    private static void GetAll(CommandContext ctx, bool keys, bool values)
    {
        if (!TryGet<KvHash>(ctx, ctx.Arg(1), false, out var h)) return;
        bool map = keys && values;
        if (h is null)
        {
            if (map) ctx.Reply.MapHeader(0); else ctx.Reply.ArrayHeader(0);
            return;
        }
        if (map) ctx.Reply.MapHeader(h.Count); else ctx.Reply.ArrayHeader(h.Count);
        foreach (var kv in h.Pairs())
        {
            if (keys) ctx.Reply.Bulk(kv.Key);
            if (values) ctx.Reply.Bulk(kv.Value);
        }
    }

    private static void HDel(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (!TryGet<KvHash>(ctx, key, true, out var h)) return;
        if (h is null)
        {
            ctx.Reply.Integer(0);
            return;
        }
        long deleted = 0;
        bool keyRemoved = false;
        for (int j = 2; j < ctx.Argc; j++)
        {
            if (!h.Remove(ctx.Arg(j))) continue;
            deleted++;
            if (DeleteIfEmpty(ctx, key, h))
            {
                keyRemoved = true;
                break;
            }
        }
        if (deleted > 0)
        {
            ctx.KeyModified(key);
            ctx.Notify(KeyspaceEvents.Hash, "hdel", key);
            if (keyRemoved) ctx.Notify(KeyspaceEvents.Generic, "del", key);
            ctx.Dirty(deleted);
        }
        ctx.Reply.Integer(deleted);
    }

    private static void HExists(CommandContext ctx)
    {
        if (!TryGet<KvHash>(ctx, ctx.Arg(1), false, out var h)) return;
        ctx.Reply.Integer(h is not null && h.Contains(ctx.Arg(2)) ? 1 : 0);
    }

    private static void HLen(CommandContext ctx)
    {
        if (!TryGet<KvHash>(ctx, ctx.Arg(1), false, out var h)) return;
        ctx.Reply.Integer(h?.Count ?? 0);
    }

    private static void HStrLen(CommandContext ctx)
    {
        if (!TryGet<KvHash>(ctx, ctx.Arg(1), false, out var h)) return;
        ctx.Reply.Integer(h is null ? 0 : Math.Max(0, h.ValueLength(ctx.Arg(2))));
    }

    private static void HIncrBy(CommandContext ctx)
    {
        if (!ctx.TryGetLong(3, out long incr)) return;
        if (!LookupWriteOrCreate(ctx, out var h)) return;
        long value = 0;
        if (h.TryGet(ctx.Arg(2), out var cur) && !KvSet.TryParseInt(cur, out value))
        {
            ctx.Error("ERR hash value is not an integer");
            return;
        }
        if ((incr < 0 && value < 0 && incr < long.MinValue - value) || (incr > 0 && value > 0 && incr > long.MaxValue - value))
        {
            ctx.Error(Errors.Overflow);
            return;
        }
        value += incr;
        var lim = TypeLimits.Of(ctx);
        h.Set(ctx.Arg(2), LongBytes(value), lim.HashEntries, lim.HashValue);
        ctx.Reply.Integer(value);
        ctx.KeyModified(ctx.Arg(1));
        ctx.Notify(KeyspaceEvents.Hash, "hincrby", ctx.Arg(1));
        ctx.Dirty();
    }

    /// <summary>
    /// hincrbyfloatCommand (t_hash.c 7.0.15) in 80-bit long double (<see cref="LongDouble"/>): the increment is parsed
    /// with string2ld ("ERR value is not a valid float"), an infinite increment is "ERR value is NaN or Infinity"
    /// (checked before the key lookup, so it wins over WRONGTYPE); the stored field is parsed the same way ("ERR hash
    /// value is not a float"), a missing field counts as 0; a NaN/infinite sum is "ERR increment would produce NaN or
    /// Infinity". The result is ld2string(LD_STR_HUMAN) text, stored and propagated as HSET key field value.
    /// </summary>
    private static void HIncrByFloat(CommandContext ctx)
    {
        if (!LongDouble.TryParse(ctx.Arg(3), out var incr))
        {
            ctx.Error(Errors.NotFloat);
            return;
        }
        if (incr.IsInfinity || incr.IsNaN)
        {
            ctx.Error("ERR value is NaN or Infinity");
            return;
        }
        if (!LookupWriteOrCreate(ctx, out var h)) return;
        var value = LongDouble.Zero;
        if (h.TryGet(ctx.Arg(2), out var existing) && !LongDouble.TryParse(existing, out value))
        {
            ctx.Error("ERR hash value is not a float");
            return;
        }
        value += incr;
        if (value.IsNaN || value.IsInfinity)
        {
            ctx.Error("ERR increment would produce NaN or Infinity");
            return;
        }
        var bytes = B(value.ToHumanString());
        var lim = TypeLimits.Of(ctx);
        h.Set(ctx.Arg(2), bytes, lim.HashEntries, lim.HashValue);
        ctx.Reply.Bulk(bytes);
        ctx.KeyModified(ctx.Arg(1));
        ctx.Notify(KeyspaceEvents.Hash, "hincrbyfloat", ctx.Arg(1));
        ctx.Dirty();
        ctx.PropagateAs = [B("HSET"), ctx.ArgBytes(1), ctx.ArgBytes(2), bytes];
    }

    private static void ReplyPair(CommandContext ctx, KeyValuePair<byte[], byte[]> kv, bool withValues)
    {
        if (withValues && ctx.Reply.Resp > 2) ctx.Reply.ArrayHeader(2);
        ctx.Reply.Bulk(kv.Key);
        if (withValues) ctx.Reply.Bulk(kv.Value);
    }

    private static void HRandField(CommandContext ctx)
    {
        if (ctx.Argc >= 3)
        {
            if (!TryGetRangeLong(ctx, 2, -long.MaxValue, long.MaxValue, out long l)) return;
            bool withValues = false;
            if (ctx.Argc > 4 || (ctx.Argc == 4 && !ctx.ArgIs(3, "withvalues")))
            {
                ctx.SyntaxError();
                return;
            }
            if (ctx.Argc == 4)
            {
                withValues = true;
                if (l < -long.MaxValue / 2 || l > long.MaxValue / 2)
                {
                    ctx.Error("ERR value is out of range");
                    return;
                }
            }
            WithCount(ctx, l, withValues);
            return;
        }
        if (!TryGet<KvHash>(ctx, ctx.Arg(1), false, out var h)) return;
        if (h is null)
        {
            ctx.Reply.Null();
            return;
        }
        ctx.Reply.Bulk(h.Random(Random.Shared).Key);
    }

    private static void WithCount(CommandContext ctx, long l, bool withValues)
    {
        if (!TryGet<KvHash>(ctx, ctx.Arg(1), false, out var h)) return;
        if (h is null)
        {
            ctx.Reply.ArrayHeader(0);
            return;
        }
        long size = h.Count;
        bool uniq = l >= 0;
        long count = uniq ? l : -l;
        if (count == 0)
        {
            ctx.Reply.ArrayHeader(0);
            return;
        }
        var rng = Random.Shared;
        if (!uniq || count == 1)
        {
            ctx.Reply.ArrayHeader(withValues && ctx.Reply.Resp == 2 ? count * 2 : count);
            while (count-- > 0) ReplyPair(ctx, h.Random(rng), withValues);
            return;
        }
        long replySize = Math.Min(count, size);
        ctx.Reply.ArrayHeader(withValues && ctx.Reply.Resp == 2 ? replySize * 2 : replySize);
        if (count >= size)
        {
            foreach (var kv in h.Pairs()) ReplyPair(ctx, kv, withValues);
            return;
        }
        // Pick 'count' distinct pairs: a partial Fisher-Yates shuffle of the pairs.
        var all = h.Pairs().ToArray();
        for (int i = 0; i < count; i++)
        {
            int j = i + rng.Next(all.Length - i);
            (all[i], all[j]) = (all[j], all[i]);
            ReplyPair(ctx, all[i], withValues);
        }
    }

    private static void HScan(CommandContext ctx)
    {
        if (!KeyCommands.TryParseCursor(ctx, 2, out ulong cursor)) return;
        if (!TryGet<KvHash>(ctx, ctx.Arg(1), false, out var h)) return;
        if (h is null)
        {
            ctx.Reply.ArrayHeader(2);
            ctx.Reply.Bulk("0"u8);
            ctx.Reply.ArrayHeader(0);
            return;
        }
        ScanReply(ctx, cursor, (c, visit) => h.Scan(c, (k, v) => visit(k, v)), true);
    }
}
