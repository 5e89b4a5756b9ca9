using Kv.Server;
using Kv.Storage;
using static Kv.Commands.CollectionHelpers;

namespace Kv.Commands;

/// <summary>
/// List commands (t_list.c in redis 7.0.15): replies, error texts, server.dirty accounting, key deletion when a
/// list empties, and propagation rewrites of the blocking forms (BLPOP served -> LPOP key, BLMOVE -> LMOVE,
/// BRPOPLPUSH -> RPOPLPUSH).
/// </summary>
[CommandGroup]
internal static class ListCommands
{
    private const CommandFlags W = CommandFlags.Write;
    private const CommandFlags D = CommandFlags.DenyOom;
    private const CommandFlags R = CommandFlags.ReadOnly;
    private const CommandFlags F = CommandFlags.Fast;
    private const CommandFlags B = CommandFlags.Blocking | CommandFlags.NoScript;

    public static void Register(CommandTable t)
    {
        t.Add("lpush", -3, W | D | F, 1, 1, 1, ctx => Push(ctx, true, false), "list", "write list fast");
        t.Add("rpush", -3, W | D | F, 1, 1, 1, ctx => Push(ctx, false, false), "list", "write list fast");
        t.Add("lpushx", -3, W | D | F, 1, 1, 1, ctx => Push(ctx, true, true), "list", "write list fast");
        t.Add("rpushx", -3, W | D | F, 1, 1, 1, ctx => Push(ctx, false, true), "list", "write list fast");
        t.Add("linsert", 5, W | D, 1, 1, 1, LInsert, "list", "write list slow");
        t.Add("llen", 2, R | F, 1, 1, 1, LLen, "list", "read list fast");
        t.Add("lindex", 3, R, 1, 1, 1, LIndex, "list", "read list slow");
        t.Add("lset", 4, W | D, 1, 1, 1, LSet, "list", "write list slow");
        t.Add("lpop", -2, W | F, 1, 1, 1, ctx => Pop(ctx, true), "list", "write list fast");
        t.Add("rpop", -2, W | F, 1, 1, 1, ctx => Pop(ctx, false), "list", "write list fast");
        t.Add("lrange", 4, R, 1, 1, 1, LRange, "list", "read list slow");
        t.Add("ltrim", 4, W, 1, 1, 1, LTrim, "list", "write list slow");
        t.Add("lpos", -3, R, 1, 1, 1, LPos, "list", "read list slow");
        t.Add("lrem", 4, W, 1, 1, 1, LRem, "list", "write list slow");
        t.Add("lmove", 5, W | D, 1, 2, 1, LMove, "list", "write list slow");
        t.Add("rpoplpush", 3, W | D, 1, 2, 1, ctx => MoveGeneric(ctx, false, true), "list", "write list slow");
        t.Add("blpop", -3, W | B, 1, -2, 1, ctx => BPop(ctx, true), "list", "write list slow blocking");
        t.Add("brpop", -3, W | B, 1, -2, 1, ctx => BPop(ctx, false), "list", "write list slow blocking");
        t.Add("blmove", 6, W | D | B, 1, 2, 1, BLMove, "list", "write list slow blocking");
        t.Add("brpoplpush", 4, W | D | B, 1, 2, 1, BRPopLPush, "list", "write list slow blocking");
        t.Add("lmpop", -4, W, 0, 0, 0, ctx => MPop(ctx, 1, false), "list", "write list slow");
        t.Add("blmpop", -5, W | B, 0, 0, 0, ctx => MPop(ctx, 2, true), "list", "write list slow blocking");
    }

    /// <summary>Indexable view: small (packed) lists are copied once, big ones are indexed in place (O(1)).</summary>
    private static IReadOnlyList<byte[]> View(KvList l) => l.Count <= KvList.PackedMaxCount ? l.ToList() : new DequeView(l);

    private sealed class DequeView(KvList l) : IReadOnlyList<byte[]>
    {
        public byte[] this[int index] => l[index];
        public int Count => (int)l.Count;
        public IEnumerator<byte[]> GetEnumerator() => l.Items().GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private static KvList Create(CommandContext ctx, ReadOnlySpan<byte> key)
    {
        var l = new KvList();
        ctx.Db.Set(key, l);
        ctx.SignalKeyAsReady(ctx.Db, key);
        ctx.Notify(KeyspaceEvents.New, "new", key);
        return l;
    }

    private static void Push(CommandContext ctx, bool left, bool xx)
    {
        var key = ctx.Arg(1);
        if (!TryGet<KvList>(ctx, key, true, out var l)) return;
        if (l is null)
        {
            if (xx)
            {
                ctx.Reply.Integer(0);
                return;
            }
            l = Create(ctx, key);
        }
        for (int j = 2; j < ctx.Argc; j++)
        {
            if (left) l.AddFirst(ctx.ArgBytes(j));
            else l.AddLast(ctx.ArgBytes(j));
        }
        ctx.Dirty(ctx.Argc - 2);
        ctx.Reply.Integer(l.Count);
        ctx.KeyModified(key);
        ctx.Notify(KeyspaceEvents.List, left ? "lpush" : "rpush", key);
    }

    private static void LInsert(CommandContext ctx)
    {
        bool after;
        if (ctx.ArgIs(2, "after")) after = true;
        else if (ctx.ArgIs(2, "before")) after = false;
        else
        {
            ctx.SyntaxError();
            return;
        }
        var key = ctx.Arg(1);
        if (!TryGet<KvList>(ctx, key, true, out var l)) return;
        if (l is null)
        {
            ctx.Reply.Integer(0);
            return;
        }
        var pivot = ctx.Arg(3);
        var view = View(l);
        int n = view.Count;
        for (int i = 0; i < n; i++)
        {
            if (!pivot.SequenceEqual(view[i])) continue;
            l.Insert(after ? i + 1 : i, ctx.ArgBytes(4));
            ctx.KeyModified(key);
            ctx.Notify(KeyspaceEvents.List, "linsert", key);
            ctx.Dirty();
            ctx.Reply.Integer(l.Count);
            return;
        }
        ctx.Reply.Integer(-1);
    }

    private static void LLen(CommandContext ctx)
    {
        if (!TryGet<KvList>(ctx, ctx.Arg(1), false, out var l)) return;
        ctx.Reply.Integer(l?.Count ?? 0);
    }

    private static void LIndex(CommandContext ctx)
    {
        if (!TryGet<KvList>(ctx, ctx.Arg(1), false, out var l)) return;
        if (l is null)
        {
            ctx.Reply.Null();
            return;
        }
        if (!ctx.TryGetLong(2, out long index)) return;
        if (index < 0) index += l.Count;
        if (index < 0 || index >= l.Count) ctx.Reply.Null();
        else ctx.Reply.Bulk(l[(int)index]);
    }

    private static void LSet(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (!TryGet<KvList>(ctx, key, true, out var l)) return;
        if (l is null)
        {
            ctx.Error(Errors.NoSuchKey);
            return;
        }
        if (!ctx.TryGetLong(2, out long index)) return;
        if (index < 0) index += l.Count;
        if (index < 0 || index >= l.Count)
        {
            ctx.Error(Errors.IndexOutOfRange);
            return;
        }
        l[(int)index] = ctx.ArgBytes(3);
        ctx.Reply.Ok();
        ctx.KeyModified(key);
        ctx.Notify(KeyspaceEvents.List, "lset", key);
        ctx.Dirty();
    }

    /// <summary>listElementsRemoved: notifies lpop/rpop, deletes the emptied key ("del"), signals, counts dirty.</summary>
    private static void ElementsRemoved(CommandContext ctx, ReadOnlySpan<byte> key, KvList l, long count, bool left)
    {
        ctx.Notify(KeyspaceEvents.List, left ? "lpop" : "rpop", key);
        if (DeleteIfEmpty(ctx, key, l)) ctx.Notify(KeyspaceEvents.Generic, "del", key);
        ctx.KeyModified(key);
        ctx.Dirty(count);
    }

    /// <summary>addListRangeReply with redis's index normalisation.</summary>
    private static void RangeReply(CommandContext ctx, KvList l, long start, long end, bool reverse)
    {
        long llen = l.Count;
        if (start < 0) start += llen;
        if (end < 0) end += llen;
        if (start < 0) start = 0;
        if (start > end || start >= llen)
        {
            ctx.Reply.ArrayHeader(0);
            return;
        }
        if (end >= llen) end = llen - 1;
        ctx.Reply.ArrayHeader(end - start + 1);
        var view = View(l);
        if (!reverse) for (long i = start; i <= end; i++) ctx.Reply.Bulk(view[(int)i]);
        else for (long i = end; i >= start; i--) ctx.Reply.Bulk(view[(int)i]);
    }

    private static void Pop(CommandContext ctx, bool left)
    {
        bool hasCount = ctx.Argc == 3;
        long count = 0;
        if (ctx.Argc > 3)
        {
            ctx.WrongArity();
            return;
        }
        if (hasCount && !TryGetPositiveLong(ctx, 2, out count)) return;
        var key = ctx.Arg(1);
        if (!TryGet<KvList>(ctx, key, true, out var l)) return;
        if (l is null)
        {
            if (hasCount) ctx.Reply.NullArray(); else ctx.Reply.Null();
            return;
        }
        if (hasCount && count == 0)
        {
            ctx.Reply.ArrayHeader(0);
            return;
        }
        if (!hasCount)
        {
            ctx.Reply.Bulk(left ? l.RemoveFirst() : l.RemoveLast());
            ElementsRemoved(ctx, key, l, 1, left);
            return;
        }
        long n = Math.Min(count, l.Count);
        ctx.Reply.ArrayHeader(n);
        for (long i = 0; i < n; i++) ctx.Reply.Bulk(left ? l.RemoveFirst() : l.RemoveLast());
        ElementsRemoved(ctx, key, l, n, left);
    }

    private static void LRange(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long start) || !ctx.TryGetLong(3, out long end)) return;
        if (!TryGet<KvList>(ctx, ctx.Arg(1), false, out var l)) return;
        if (l is null)
        {
            ctx.Reply.ArrayHeader(0);
            return;
        }
        RangeReply(ctx, l, start, end, false);
    }

    private static void LTrim(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long start) || !ctx.TryGetLong(3, out long end)) return;
        var key = ctx.Arg(1);
        if (!TryGet<KvList>(ctx, key, true, out var l)) return;
        if (l is null)
        {
            ctx.Reply.Ok();
            return;
        }
        long llen = l.Count, ltrim, rtrim;
        if (start < 0) start += llen;
        if (end < 0) end += llen;
        if (start < 0) start = 0;
        if (start > end || start >= llen)
        {
            ltrim = llen;
            rtrim = 0;
        }
        else
        {
            if (end >= llen) end = llen - 1;
            ltrim = start;
            rtrim = llen - end - 1;
        }
        for (long i = 0; i < ltrim; i++) l.RemoveFirst();
        for (long i = 0; i < rtrim; i++) l.RemoveLast();
        ctx.Notify(KeyspaceEvents.List, "ltrim", key);
        if (DeleteIfEmpty(ctx, key, l)) ctx.Notify(KeyspaceEvents.Generic, "del", key);
        ctx.KeyModified(key);
        ctx.Dirty(ltrim + rtrim);
        ctx.Reply.Ok();
    }

    private static void LPos(CommandContext ctx)
    {
        long rank = 1, count = -1, maxlen = 0;
        for (int j = 3; j < ctx.Argc; j++)
        {
            bool more = ctx.Argc - 1 - j > 0;
            if (ctx.ArgIs(j, "RANK") && more)
            {
                j++;
                if (!ctx.TryGetLong(j, out rank)) return;
                if (rank == 0)
                {
                    ctx.Error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
                    return;
                }
            }
            else if (ctx.ArgIs(j, "COUNT") && more)
            {
                j++;
                if (!TryGetPositiveLong(ctx, j, out count, "ERR COUNT can't be negative")) return;
            }
            else if (ctx.ArgIs(j, "MAXLEN") && more)
            {
                j++;
                if (!TryGetPositiveLong(ctx, j, out maxlen, "ERR MAXLEN can't be negative")) return;
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        bool fromTail = rank < 0;
        if (fromTail) rank = -rank;
        if (!TryGet<KvList>(ctx, ctx.Arg(1), false, out var l)) return;
        if (l is null)
        {
            if (count != -1) ctx.Reply.ArrayHeader(0); else ctx.Reply.Null();
            return;
        }
        var ele = ctx.Arg(2);
        var view = View(l);
        long llen = l.Count, matches = 0, matchIndex = -1;
        List<long>? found = count != -1 ? [] : null;
        for (long index = 0; index < llen && (maxlen == 0 || index < maxlen); index++)
        {
            long pos = fromTail ? llen - index - 1 : index;
            if (!ele.SequenceEqual(view[(int)pos])) continue;
            matches++;
            if (matches < rank) continue;
            if (found is not null)
            {
                found.Add(pos);
                if (count != 0 && matches - rank + 1 >= count) break;
            }
            else
            {
                matchIndex = pos;
                break;
            }
        }
        if (found is not null)
        {
            ctx.Reply.ArrayHeader(found.Count);
            foreach (var p in found) ctx.Reply.Integer(p);
        }
        else if (matchIndex != -1) ctx.Reply.Integer(matchIndex);
        else ctx.Reply.Null();
    }

    private static void LRem(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long toRemove)) return;
        var key = ctx.Arg(1);
        if (!TryGet<KvList>(ctx, key, true, out var l)) return;
        if (l is null)
        {
            ctx.Reply.Integer(0);
            return;
        }
        var ele = ctx.Arg(3);
        bool fromTail = toRemove < 0;
        if (fromTail) toRemove = -toRemove;
        var items = l.ToList();
        int n = items.Count;
        var keep = new bool[n];
        long removed = 0;
        for (int k = 0; k < n; k++)
        {
            int i = fromTail ? n - 1 - k : k;
            keep[i] = true;
            if ((toRemove == 0 || removed < toRemove) && ele.SequenceEqual(items[i]))
            {
                keep[i] = false;
                removed++;
            }
        }
        if (removed > 0)
        {
            var res = new List<byte[]>(n - (int)removed);
            for (int i = 0; i < n; i++) if (keep[i]) res.Add(items[i]);
            l.Reset(res);
            ctx.Dirty(removed);
            ctx.KeyModified(key);
            ctx.Notify(KeyspaceEvents.List, "lrem", key);
        }
        if (DeleteIfEmpty(ctx, key, l)) ctx.Notify(KeyspaceEvents.Generic, "del", key);
        ctx.Reply.Integer(removed);
    }

    private static bool TryGetWhere(CommandContext ctx, int arg, out bool left)
    {
        left = false;
        if (ctx.ArgIs(arg, "right")) return true;
        if (ctx.ArgIs(arg, "left")) { left = true; return true; }
        ctx.SyntaxError();
        return false;
    }

    private static void LMove(CommandContext ctx)
    {
        if (!TryGetWhere(ctx, 3, out bool fromLeft) || !TryGetWhere(ctx, 4, out bool toLeft)) return;
        MoveGeneric(ctx, fromLeft, toLeft);
    }

    /// <summary>lmoveGenericCommand. Returns false when the source is missing (after replying null).</summary>
    private static void MoveGeneric(CommandContext ctx, bool fromLeft, bool toLeft)
    {
        var src = ctx.Arg(1);
        if (!TryGet<KvList>(ctx, src, true, out var sl)) return;
        if (sl is null || sl.Count == 0)
        {
            ctx.Reply.Null();
            return;
        }
        var dst = ctx.Arg(2);
        if (!TryGet<KvList>(ctx, dst, true, out var dl)) return;
        var value = fromLeft ? sl.RemoveFirst() : sl.RemoveLast();
        dl ??= Create(ctx, dst);
        ctx.KeyModified(dst);
        if (toLeft) dl.AddFirst(value); else dl.AddLast(value);
        ctx.Notify(KeyspaceEvents.List, toLeft ? "lpush" : "rpush", dst);
        ctx.Reply.Bulk(value);
        ctx.Notify(KeyspaceEvents.List, fromLeft ? "lpop" : "rpop", src);
        if (DeleteIfEmpty(ctx, src, sl)) ctx.Notify(KeyspaceEvents.Generic, "del", src);
        ctx.KeyModified(src);
        ctx.Dirty();
        if (ctx.Command.Name == "blmove")
            ctx.PropagateAs = [B("LMOVE"), ctx.ArgBytes(1), ctx.ArgBytes(2), ctx.ArgBytes(3), ctx.ArgBytes(4)];
        else if (ctx.Command.Name == "brpoplpush")
            ctx.PropagateAs = [B("RPOPLPUSH"), ctx.ArgBytes(1), ctx.ArgBytes(2)];
    }

    private static void BPop(CommandContext ctx, bool left)
    {
        if (!TryGetBlockTimeout(ctx, ctx.Argc - 1, out long timeout)) return;
        for (int j = 1; j < ctx.Argc - 1; j++)
        {
            var key = ctx.Arg(j);
            if (ctx.ServingBlocked && ctx.ServingKey is { } ready)
            {
                // Serve from the ready key only; a missing, empty or other-typed value leaves the client blocked.
                if (!key.SequenceEqual(ready) || ctx.Lookup(key, false) is not KvList { Count: > 0 }) continue;
            }
            if (!TryGet<KvList>(ctx, key, true, out var l)) return;
            if (l is null || l.Count == 0) continue;
            var value = left ? l.RemoveFirst() : l.RemoveLast();
            ctx.Reply.ArrayHeader(2);
            ctx.Reply.Bulk(key);
            ctx.Reply.Bulk(value);
            ElementsRemoved(ctx, key, l, 1, left);
            ctx.PropagateAs = [B(left ? "LPOP" : "RPOP"), ctx.ArgBytes(j)];
            return;
        }
        if (ctx.ServingBlocked) return; // still nothing: stay blocked
        if (DenyBlocking(ctx))
        {
            ctx.Reply.NullArray();
            return;
        }
        var keys = new byte[ctx.Argc - 2][];
        for (int j = 1; j < ctx.Argc - 1; j++) keys[j - 1] = ctx.ArgBytes(j);
        ctx.BlockOnKeys(keys, timeout);
    }

    /// <summary>
    /// Parses "numkeys key... where [COUNT n]" (lmpopGenericCommand / zmpopGenericCommand). Returns false after
    /// replying an error.
    /// </summary>
    internal static bool TryParseMPop(CommandContext ctx, int numKeysIdx, string a, string b, out int numKeys, out bool first, out long count)
    {
        numKeys = 0;
        first = false;
        count = -1;
        if (!TryGetRangeLong(ctx, numKeysIdx, 1, long.MaxValue, out long nk, "ERR numkeys should be greater than 0")) return false;
        if (nk >= ctx.Argc || numKeysIdx + nk + 1 >= ctx.Argc)
        {
            ctx.SyntaxError();
            return false;
        }
        numKeys = (int)nk;
        int whereIdx = numKeysIdx + numKeys + 1;
        if (ctx.ArgIs(whereIdx, a)) first = true;
        else if (!ctx.ArgIs(whereIdx, b))
        {
            ctx.SyntaxError();
            return false;
        }
        for (int j = whereIdx + 1; j < ctx.Argc; j++)
        {
            bool more = ctx.Argc - 1 - j > 0;
            if (count == -1 && ctx.ArgIs(j, "COUNT") && more)
            {
                j++;
                if (!TryGetRangeLong(ctx, j, 1, long.MaxValue, out count, "ERR count should be greater than 0")) return false;
            }
            else
            {
                ctx.SyntaxError();
                return false;
            }
        }
        if (count == -1) count = 1;
        return true;
    }

    private static void MPop(CommandContext ctx, int numKeysIdx, bool block)
    {
        if (!TryParseMPop(ctx, numKeysIdx, "left", "right", out int numKeys, out bool left, out long count)) return;
        long timeout = 0;
        if (block && !TryGetBlockTimeout(ctx, 1, out timeout)) return;
        for (int j = numKeysIdx + 1; j <= numKeysIdx + numKeys; j++)
        {
            var key = ctx.Arg(j);
            if (ctx.ServingBlocked && ctx.ServingKey is { } ready)
            {
                if (!key.SequenceEqual(ready) || ctx.Lookup(key, false) is not KvList { Count: > 0 }) continue;
            }
            if (!TryGet<KvList>(ctx, key, true, out var l)) return;
            if (l is null || l.Count == 0) continue;
            long n = Math.Min(count, l.Count);
            ctx.Reply.ArrayHeader(2);
            ctx.Reply.Bulk(key);
            ctx.Reply.ArrayHeader(n);
            for (long i = 0; i < n; i++) ctx.Reply.Bulk(left ? l.RemoveFirst() : l.RemoveLast());
            ElementsRemoved(ctx, key, l, n, left);
            ctx.PropagateAs = [B(left ? "LPOP" : "RPOP"), ctx.ArgBytes(j), LongBytes(n)];
            return;
        }
        if (!block)
        {
            ctx.Reply.NullArray();
            return;
        }
        if (ctx.ServingBlocked) return;
        if (DenyBlocking(ctx))
        {
            ctx.Reply.NullArray();
            return;
        }
        var keys = new byte[numKeys][];
        for (int j = 0; j < numKeys; j++) keys[j] = ctx.ArgBytes(numKeysIdx + 1 + j);
        ctx.BlockOnKeys(keys, timeout);
    }

    private static void BLMove(CommandContext ctx)
    {
        if (!TryGetWhere(ctx, 3, out bool fromLeft) || !TryGetWhere(ctx, 4, out bool toLeft)) return;
        if (!TryGetBlockTimeout(ctx, 5, out long timeout)) return;
        BlockingMove(ctx, fromLeft, toLeft, timeout);
    }

    private static void BRPopLPush(CommandContext ctx)
    {
        if (!TryGetBlockTimeout(ctx, 3, out long timeout)) return;
        BlockingMove(ctx, false, true, timeout);
    }

    private static void BlockingMove(CommandContext ctx, bool fromLeft, bool toLeft, long timeout)
    {
        if (ctx.ServingBlocked && ctx.Lookup(ctx.Arg(1), false) is not KvList { Count: > 0 }) return;
        if (!TryGet<KvList>(ctx, ctx.Arg(1), true, out var l)) return;
        if (l is not null && l.Count > 0)
        {
            MoveGeneric(ctx, fromLeft, toLeft);
            return;
        }
        if (ctx.ServingBlocked) return;
        if (DenyBlocking(ctx))
        {
            ctx.Reply.Null();
            return;
        }
        ctx.BlockOnKeys([ctx.ArgBytes(1)], timeout);
    }
}
