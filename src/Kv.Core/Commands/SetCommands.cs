using Kv.Server;
using Kv.Storage;
using static Kv.Commands.CollectionHelpers;

namespace Kv.Commands;

/// <summary>
/// Set commands (t_set.c in redis 7.0.15): replies (RESP3 sets where redis uses addReplySetLen), error texts,
/// intset/hashtable encodings, server.dirty accounting and the SPOP propagation rewrites (SPOP -> SREM key member;
/// SPOP with count -> one SREM per popped member, or DEL when the whole set is popped).
/// </summary>
[CommandGroup]
internal static class SetCommands
{
    private const CommandFlags W = CommandFlags.Write;
    private const CommandFlags D = CommandFlags.DenyOom;
    private const CommandFlags R = CommandFlags.ReadOnly;
    private const CommandFlags F = CommandFlags.Fast;

    private enum Op { Union, Diff }

    public static void Register(CommandTable t)
    {
        t.Add("sadd", -3, W | D | F, 1, 1, 1, SAdd, "set", "write set fast");
        t.Add("srem", -3, W | F, 1, 1, 1, SRem, "set", "write set fast");
        t.Add("smembers", 2, R, 1, 1, 1, ctx => SetOp(ctx, 1, null, Op.Union), "set", "read set slow");
        t.Add("sismember", 3, R | F, 1, 1, 1, SIsMember, "set", "read set fast");
        t.Add("smismember", -3, R | F, 1, 1, 1, SMIsMember, "set", "read set fast");
        t.Add("scard", 2, R | F, 1, 1, 1, SCard, "set", "read set fast");
        t.Add("spop", -2, W | F, 1, 1, 1, SPop, "set", "write set fast");
        t.Add("srandmember", -2, R, 1, 1, 1, SRandMember, "set", "read set slow");
        t.Add("smove", 4, W | F, 1, 2, 1, SMove, "set", "write set fast");
        t.Add("sinter", -2, R, 1, -1, 1, ctx => Inter(ctx, 1, ctx.Argc - 1, null, false, 0), "set", "read set slow");
        t.Add("sinterstore", -3, W | D, 1, -1, 1, ctx => Inter(ctx, 2, ctx.Argc - 2, ctx.ArgBytes(1), false, 0), "set", "write set slow");
        t.Add("sintercard", -3, R, 0, 0, 0, SInterCard, "set", "read set slow");
        t.Add("sunion", -2, R, 1, -1, 1, ctx => SetOp(ctx, 1, null, Op.Union), "set", "read set slow");
        t.Add("sunionstore", -3, W | D, 1, -1, 1, ctx => SetOp(ctx, 2, ctx.ArgBytes(1), Op.Union), "set", "write set slow");
        t.Add("sdiff", -2, R, 1, -1, 1, ctx => SetOp(ctx, 1, null, Op.Diff), "set", "read set slow");
        t.Add("sdiffstore", -3, W | D, 1, -1, 1, ctx => SetOp(ctx, 2, ctx.ArgBytes(1), Op.Diff), "set", "write set slow");
        t.Add("sscan", -3, R, 1, 1, 1, SScan, "set", "read set slow");
    }

    private static void SAdd(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (!TryGet<KvSet>(ctx, key, true, out var s)) return;
        if (s is null)
        {
            s = KvSet.CreateFor(ctx.Arg(2));
            ctx.Db.Set(key, s);
            ctx.Notify(KeyspaceEvents.New, "new", key);
        }
        long max = TypeLimits.Of(ctx).SetIntset;
        long added = 0;
        for (int j = 2; j < ctx.Argc; j++)
            if (s.Add(ctx.Arg(j), max)) added++;
        if (added > 0)
        {
            ctx.KeyModified(key);
            ctx.Notify(KeyspaceEvents.Set, "sadd", key);
        }
        ctx.Dirty(added);
        ctx.Reply.Integer(added);
    }

    private static void SRem(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (!TryGet<KvSet>(ctx, key, true, out var s)) return;
        if (s is null)
        {
            ctx.Reply.Integer(0);
            return;
        }
        long deleted = 0;
        bool keyRemoved = false;
        for (int j = 2; j < ctx.Argc; j++)
        {
            if (!s.Remove(ctx.Arg(j))) continue;
            deleted++;
            if (DeleteIfEmpty(ctx, key, s))
            {
                keyRemoved = true;
                break;
            }
        }
        if (deleted > 0)
        {
            ctx.KeyModified(key);
            ctx.Notify(KeyspaceEvents.Set, "srem", key);
            if (keyRemoved) ctx.Notify(KeyspaceEvents.Generic, "del", key);
            ctx.Dirty(deleted);
        }
        ctx.Reply.Integer(deleted);
    }

    private static void SMove(CommandContext ctx)
    {
        var srcKey = ctx.Arg(1);
        var dstKey = ctx.Arg(2);
        var src = ctx.LookupWrite(srcKey);
        var dst = ctx.LookupWrite(dstKey);
        var ele = ctx.Arg(3);
        if (src is null)
        {
            ctx.Reply.Integer(0);
            return;
        }
        if (src is not KvSet ss || (dst is not null && dst is not KvSet))
        {
            ctx.WrongType();
            return;
        }
        var ds = dst as KvSet;
        if (ReferenceEquals(ss, ds))
        {
            ctx.Reply.Integer(ss.Contains(ele) ? 1 : 0);
            return;
        }
        if (!ss.Remove(ele))
        {
            ctx.Reply.Integer(0);
            return;
        }
        ctx.Notify(KeyspaceEvents.Set, "srem", srcKey);
        if (DeleteIfEmpty(ctx, srcKey, ss)) ctx.Notify(KeyspaceEvents.Generic, "del", srcKey);
        if (ds is null)
        {
            ds = KvSet.CreateFor(ele);
            ctx.Db.Set(dstKey, ds);
            ctx.Notify(KeyspaceEvents.New, "new", dstKey);
        }
        ctx.KeyModified(srcKey);
        ctx.Dirty();
        if (ds.Add(ele, TypeLimits.Of(ctx).SetIntset))
        {
            ctx.Dirty();
            ctx.KeyModified(dstKey);
            ctx.Notify(KeyspaceEvents.Set, "sadd", dstKey);
        }
        ctx.Reply.Integer(1);
    }

    private static void SIsMember(CommandContext ctx)
    {
        if (!TryGet<KvSet>(ctx, ctx.Arg(1), false, out var s)) return;
        ctx.Reply.Integer(s is not null && s.Contains(ctx.Arg(2)) ? 1 : 0);
    }

    private static void SMIsMember(CommandContext ctx)
    {
        if (!TryGet<KvSet>(ctx, ctx.Arg(1), false, out var s)) return;
        ctx.Reply.ArrayHeader(ctx.Argc - 2);
        for (int j = 2; j < ctx.Argc; j++) ctx.Reply.Integer(s is not null && s.Contains(ctx.Arg(j)) ? 1 : 0);
    }

    private static void SCard(CommandContext ctx)
    {
        if (!TryGet<KvSet>(ctx, ctx.Arg(1), false, out var s)) return;
        ctx.Reply.Integer(s?.Count ?? 0);
    }

    private static void SPop(CommandContext ctx)
    {
        if (ctx.Argc == 3)
        {
            SPopWithCount(ctx);
            return;
        }
        if (ctx.Argc > 3)
        {
            ctx.SyntaxError();
            return;
        }
        var key = ctx.Arg(1);
        if (!TryGet<KvSet>(ctx, key, true, out var s)) return;
        if (s is null)
        {
            ctx.Reply.Null();
            return;
        }
        var ele = s.Random(Random.Shared);
        s.Remove(ele);
        ctx.Notify(KeyspaceEvents.Set, "spop", key);
        ctx.PropagateAs = [B("SREM"), ctx.ArgBytes(1), ele];
        ctx.Reply.Bulk(ele);
        if (DeleteIfEmpty(ctx, key, s)) ctx.Notify(KeyspaceEvents.Generic, "del", key);
        ctx.KeyModified(key);
        ctx.Dirty();
    }

    private static void SPopWithCount(CommandContext ctx)
    {
        if (!TryGetPositiveLong(ctx, 2, out long count)) return;
        var key = ctx.Arg(1);
        if (!TryGet<KvSet>(ctx, key, true, out var s)) return;
        if (s is null || count == 0)
        {
            ctx.Reply.SetHeader(0);
            return;
        }
        long size = s.Count;
        ctx.Notify(KeyspaceEvents.Set, "spop", key);
        ctx.Dirty(Math.Min(count, size));
        if (count >= size)
        {
            // Replies the whole set (as SUNION key would), deletes it and propagates DEL.
            var all = UnionOf([s], Op.Union);
            ReplySet(ctx, all);
            ctx.Db.Delete(key);
            ctx.Notify(KeyspaceEvents.Generic, "del", key);
            ctx.PropagateAs = [B("DEL"), ctx.ArgBytes(1)];
            ctx.KeyModified(key);
            return;
        }
        ctx.Reply.SetHeader(count);
        var keyBytes = ctx.ArgBytes(1);
        var rng = Random.Shared;
        long remaining = size - count;
        if (remaining * 5 > count)
        {
            while (count-- > 0)
            {
                var ele = s.Random(rng);
                s.Remove(ele);
                ctx.Reply.Bulk(ele);
                ctx.Server.AlsoPropagate(ctx.Client.DbIndex, [B("SREM"), keyBytes, ele]);
            }
        }
        else
        {
            // Move the survivors to a new set; reply (and propagate) what is left in the old one.
            KvSet? newSet = null;
            long max = TypeLimits.Of(ctx).SetIntset;
            while (remaining-- > 0)
            {
                var ele = s.Random(rng);
                newSet ??= KvSet.CreateFor(ele);
                newSet.Add(ele, max);
                s.Remove(ele);
            }
            foreach (var ele in s.Members())
            {
                ctx.Reply.Bulk(ele);
                ctx.Server.AlsoPropagate(ctx.Client.DbIndex, [B("SREM"), keyBytes, ele]);
            }
            ctx.Db.Set(key, newSet!, keepTtl: true);
        }
        ctx.PreventPropagation = true;
        ctx.KeyModified(key);
    }

    private static void SRandMember(CommandContext ctx)
    {
        if (ctx.Argc == 3)
        {
            SRandMemberWithCount(ctx);
            return;
        }
        if (ctx.Argc > 3)
        {
            ctx.SyntaxError();
            return;
        }
        if (!TryGet<KvSet>(ctx, ctx.Arg(1), false, out var s)) return;
        if (s is null) ctx.Reply.Null();
        else ctx.Reply.Bulk(s.Random(Random.Shared));
    }

    private static void SRandMemberWithCount(CommandContext ctx)
    {
        if (!TryGetRangeLong(ctx, 2, -long.MaxValue, long.MaxValue, out long l)) return;
        bool uniq = l >= 0;
        long count = uniq ? l : -l;
        if (!TryGet<KvSet>(ctx, ctx.Arg(1), false, out var s)) return;
        if (s is null || count == 0)
        {
            ctx.Reply.ArrayHeader(0);
            return;
        }
        long size = s.Count;
        var rng = Random.Shared;
        if (!uniq || count == 1)
        {
            ctx.Reply.ArrayHeader(count);
            while (count-- > 0) ctx.Reply.Bulk(s.Random(rng));
            return;
        }
        if (count >= size)
        {
            ctx.Reply.ArrayHeader(size);
            foreach (var m in s.Members()) ctx.Reply.Bulk(m);
            return;
        }
        var all = s.Members().ToArray();
        ctx.Reply.ArrayHeader(count);
        for (int i = 0; i < count; i++)
        {
            int j = i + rng.Next(all.Length - i);
            (all[i], all[j]) = (all[j], all[i]);
            ctx.Reply.Bulk(all[i]);
        }
    }

    /// <summary>Looks up set keys for reading; null entries for missing keys. Returns false after WRONGTYPE.</summary>
    private static bool LookupSets(CommandContext ctx, int first, int count, out KvSet?[] sets)
    {
        sets = new KvSet?[count];
        for (int j = 0; j < count; j++)
        {
            var o = ctx.Lookup(ctx.Arg(first + j));
            if (o is null) continue;
            if (o is not KvSet s)
            {
                ctx.WrongType();
                return false;
            }
            sets[j] = s;
        }
        return true;
    }

    private static void SInterCard(CommandContext ctx)
    {
        if (!TryGetRangeLong(ctx, 1, 1, long.MaxValue, out long numKeys, "ERR numkeys should be greater than 0")) return;
        if (numKeys > ctx.Argc - 2)
        {
            ctx.Error("ERR Number of keys can't be greater than number of args");
            return;
        }
        long limit = 0;
        for (long j = 2 + numKeys; j < ctx.Argc; j++)
        {
            bool more = ctx.Argc - 1 - j > 0;
            if (ctx.ArgIs((int)j, "LIMIT") && more)
            {
                j++;
                if (!TryGetPositiveLong(ctx, (int)j, out limit, "ERR LIMIT can't be negative")) return;
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        Inter(ctx, 2, (int)numKeys, null, true, limit);
    }

    private static void Inter(CommandContext ctx, int first, int setNum, byte[]? dstKey, bool cardOnly, long limit)
    {
        if (!LookupSets(ctx, first, setNum, out var sets)) return;
        if (sets.Any(s => s is null))
        {
            if (dstKey is not null)
            {
                if (ctx.Db.Delete(dstKey))
                {
                    ctx.KeyModified(dstKey);
                    ctx.Notify(KeyspaceEvents.Generic, "del", dstKey);
                    ctx.Dirty();
                }
                ctx.Reply.Integer(0);
            }
            else if (cardOnly) ctx.Reply.Integer(0);
            else ctx.Reply.SetHeader(0);
            return;
        }
        var sorted = sets.Select(s => s!).OrderBy(s => s.Count).ToArray();
        var result = new List<byte[]>();
        long cardinality = 0;
        foreach (var ele in sorted[0].Members())
        {
            bool all = true;
            for (int j = 1; j < sorted.Length; j++)
            {
                if (ReferenceEquals(sorted[j], sorted[0])) continue;
                if (!sorted[j].Contains(ele)) { all = false; break; }
            }
            if (!all) continue;
            cardinality++;
            if (cardOnly)
            {
                if (limit != 0 && cardinality >= limit) break;
                continue;
            }
            result.Add(ele);
        }
        if (cardOnly)
        {
            ctx.Reply.Integer(cardinality);
            return;
        }
        if (dstKey is null)
        {
            ctx.Reply.SetHeader(result.Count);
            foreach (var e in result) ctx.Reply.Bulk(e);
            return;
        }
        var dst = new KvSet();
        long max = TypeLimits.Of(ctx).SetIntset;
        foreach (var e in result) dst.Add(e, max);
        Store(ctx, dstKey, dst);
    }

    private static void Store(CommandContext ctx, byte[] dstKey, KvSet dst)
    {
        if (dst.Count > 0)
        {
            // setKey: lookupKeyWrite, then dbAdd ("new") or dbOverwrite; the event is the command's name.
            ctx.ExpireIfNeeded(ctx.Db, dstKey);
            if (ctx.Db.Set(dstKey, dst)) ctx.Notify(KeyspaceEvents.New, "new", dstKey);
            ctx.KeyModified(dstKey);
            ctx.Reply.Integer(dst.Count);
            ctx.Notify(KeyspaceEvents.Set, ctx.Command.Name, dstKey);
            ctx.Dirty();
        }
        else
        {
            ctx.Reply.Integer(0);
            if (ctx.Db.Delete(dstKey))
            {
                ctx.Dirty();
                ctx.KeyModified(dstKey);
                ctx.Notify(KeyspaceEvents.Generic, "del", dstKey);
            }
        }
    }

    private static KvSet UnionOf(KvSet?[] sets, Op op, long maxIntset = 512)
    {
        var dst = new KvSet();
        if (op == Op.Union)
        {
            foreach (var s in sets)
                if (s is not null)
                    foreach (var m in s.Members()) dst.Add(m, maxIntset);
            return dst;
        }
        if (sets[0] is null) return dst;
        for (int j = 1; j < sets.Length; j++)
            if (ReferenceEquals(sets[j], sets[0])) return dst;
        long one = 0, two = 0;
        foreach (var s in sets)
        {
            if (s is null) continue;
            one += sets[0]!.Count;
            two += s.Count;
        }
        one /= 2;
        if (one <= two)
        {
            var others = sets.Skip(1).OrderByDescending(s => s?.Count ?? 0).ToArray();
            foreach (var m in sets[0]!.Members())
            {
                bool found = false;
                foreach (var o in others)
                {
                    if (o is null) continue;
                    if (o.Contains(m)) { found = true; break; }
                }
                if (!found) dst.Add(m, maxIntset);
            }
        }
        else
        {
            foreach (var m in sets[0]!.Members()) dst.Add(m, maxIntset);
            for (int j = 1; j < sets.Length && dst.Count > 0; j++)
                if (sets[j] is { } s)
                    foreach (var m in s.Members()) dst.Remove(m);
        }
        return dst;
    }

    private static void ReplySet(CommandContext ctx, KvSet s)
    {
        ctx.Reply.SetHeader(s.Count);
        foreach (var m in s.Members()) ctx.Reply.Bulk(m);
    }

    private static void SetOp(CommandContext ctx, int first, byte[]? dstKey, Op op)
    {
        int setNum = ctx.Argc - first;
        if (!LookupSets(ctx, first, setNum, out var sets)) return;
        // SMEMBERS on a missing key replies an empty set; on a set it replies its members (as SINTER key).
        if (ctx.Command.Name == "smembers")
        {
            if (sets[0] is null) ctx.Reply.SetHeader(0);
            else ReplySet(ctx, sets[0]!);
            return;
        }
        var dst = UnionOf(sets, op, TypeLimits.Of(ctx).SetIntset);
        if (dstKey is null) ReplySet(ctx, dst);
        else Store(ctx, dstKey, dst);
    }

    private static void SScan(CommandContext ctx)
    {
        if (!KeyCommands.TryParseCursor(ctx, 2, out ulong cursor)) return;
        if (!TryGet<KvSet>(ctx, ctx.Arg(1), false, out var s)) return;
        if (s is null)
        {
            ctx.Reply.ArrayHeader(2);
            ctx.Reply.Bulk("0"u8);
            ctx.Reply.ArrayHeader(0);
            return;
        }
        ScanReply(ctx, cursor, (c, visit) => s.Scan(c, k => visit(k, null)), false);
    }
}
