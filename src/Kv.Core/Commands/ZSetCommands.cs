using Kv.Server;
using System.Text;
using Kv.Storage;
using static Kv.Commands.CollectionHelpers;

namespace Kv.Commands;

/// <summary>
/// Sorted-set commands (t_zset.c in redis 7.0.15): ZADD options, the ZRANGE family (rank, score and lex ranges,
/// REV, LIMIT, WITHSCORES, STORE), set algebra (ZUNION/ZINTER/ZDIFF and their STORE forms, sets accepted as
/// inputs with score 1), pops (blocking forms propagate as ZPOPMIN/ZPOPMAX key), ZRANDMEMBER and ZSCAN, with
/// redis's replies, error texts, RESP3 shapes and score formatting (%.17g; ZSCAN on listpack uses d2string).
/// </summary>
[CommandGroup]
internal static class ZSetCommands
{
    private const CommandFlags W = CommandFlags.Write;
    private const CommandFlags D = CommandFlags.DenyOom;
    private const CommandFlags R = CommandFlags.ReadOnly;
    private const CommandFlags F = CommandFlags.Fast;
    private const CommandFlags Bl = CommandFlags.Blocking | CommandFlags.NoScript;

    private enum RangeType { Auto, Rank, Score, Lex }
    private enum SetOpKind { Union, Inter, Diff }
    private enum Aggregate { Sum, Min, Max }

    public static void Register(CommandTable t)
    {
        t.Add("zadd", -4, W | D | F, 1, 1, 1, ctx => ZAdd(ctx, KvZSet.AddFlags.None), "sortedset", "write sortedset fast");
        t.Add("zincrby", 4, W | D | F, 1, 1, 1, ctx => ZAdd(ctx, KvZSet.AddFlags.Incr), "sortedset", "write sortedset fast");
        t.Add("zrem", -3, W | F, 1, 1, 1, ZRem, "sortedset", "write sortedset fast");
        t.Add("zscore", 3, R | F, 1, 1, 1, ZScore, "sortedset", "read sortedset fast");
        t.Add("zmscore", -3, R | F, 1, 1, 1, ZMScore, "sortedset", "read sortedset fast");
        t.Add("zcard", 2, R | F, 1, 1, 1, ZCard, "sortedset", "read sortedset fast");
        t.Add("zcount", 4, R | F, 1, 1, 1, ZCount, "sortedset", "read sortedset fast");
        t.Add("zlexcount", 4, R | F, 1, 1, 1, ZLexCount, "sortedset", "read sortedset fast");
        t.Add("zrange", -4, R, 1, 1, 1, ctx => ZRangeGeneric(ctx, 1, null, RangeType.Auto, null), "sortedset", "read sortedset slow");
        t.Add("zrangestore", -5, W | D, 1, 2, 1, ctx => ZRangeGeneric(ctx, 2, ctx.ArgBytes(1), RangeType.Auto, null), "sortedset", "write sortedset slow");
        t.Add("zrevrange", -4, R, 1, 1, 1, ctx => ZRangeGeneric(ctx, 1, null, RangeType.Rank, true), "sortedset", "read sortedset slow");
        t.Add("zrangebyscore", -4, R, 1, 1, 1, ctx => ZRangeGeneric(ctx, 1, null, RangeType.Score, false), "sortedset", "read sortedset slow");
        t.Add("zrevrangebyscore", -4, R, 1, 1, 1, ctx => ZRangeGeneric(ctx, 1, null, RangeType.Score, true), "sortedset", "read sortedset slow");
        t.Add("zrangebylex", -4, R, 1, 1, 1, ctx => ZRangeGeneric(ctx, 1, null, RangeType.Lex, false), "sortedset", "read sortedset slow");
        t.Add("zrevrangebylex", -4, R, 1, 1, 1, ctx => ZRangeGeneric(ctx, 1, null, RangeType.Lex, true), "sortedset", "read sortedset slow");
        t.Add("zrank", 3, R | F, 1, 1, 1, ctx => ZRank(ctx, false), "sortedset", "read sortedset fast");
        t.Add("zrevrank", 3, R | F, 1, 1, 1, ctx => ZRank(ctx, true), "sortedset", "read sortedset fast");
        t.Add("zpopmin", -2, W | F, 1, 1, 1, ctx => ZPop(ctx, false), "sortedset", "write sortedset fast");
        t.Add("zpopmax", -2, W | F, 1, 1, 1, ctx => ZPop(ctx, true), "sortedset", "write sortedset fast");
        t.Add("bzpopmin", -3, W | F | Bl, 1, -2, 1, ctx => BZPop(ctx, false), "sortedset", "write sortedset fast blocking");
        t.Add("bzpopmax", -3, W | F | Bl, 1, -2, 1, ctx => BZPop(ctx, true), "sortedset", "write sortedset fast blocking");
        t.Add("zmpop", -4, W, 0, 0, 0, ctx => ZMPop(ctx, 1, false), "sortedset", "write sortedset slow");
        t.Add("bzmpop", -5, W | Bl, 0, 0, 0, ctx => ZMPop(ctx, 2, true), "sortedset", "write sortedset slow blocking");
        t.Add("zunionstore", -4, W | D, 1, 1, 1, ctx => SetOp(ctx, ctx.ArgBytes(1), 2, SetOpKind.Union, false), "sortedset", "write sortedset slow");
        t.Add("zinterstore", -4, W | D, 1, 1, 1, ctx => SetOp(ctx, ctx.ArgBytes(1), 2, SetOpKind.Inter, false), "sortedset", "write sortedset slow");
        t.Add("zdiffstore", -4, W | D, 1, 1, 1, ctx => SetOp(ctx, ctx.ArgBytes(1), 2, SetOpKind.Diff, false), "sortedset", "write sortedset slow");
        t.Add("zunion", -3, R, 0, 0, 0, ctx => SetOp(ctx, null, 1, SetOpKind.Union, false), "sortedset", "read sortedset slow");
        t.Add("zinter", -3, R, 0, 0, 0, ctx => SetOp(ctx, null, 1, SetOpKind.Inter, false), "sortedset", "read sortedset slow");
        t.Add("zintercard", -3, R, 0, 0, 0, ctx => SetOp(ctx, null, 1, SetOpKind.Inter, true), "sortedset", "read sortedset slow");
        t.Add("zdiff", -3, R, 0, 0, 0, ctx => SetOp(ctx, null, 1, SetOpKind.Diff, false), "sortedset", "read sortedset slow");
        t.Add("zrandmember", -2, R, 1, 1, 1, ZRandMember, "sortedset", "read sortedset slow");
        t.Add("zremrangebyrank", 4, W, 1, 1, 1, ctx => ZRemRange(ctx, RangeType.Rank), "sortedset", "write sortedset slow");
        t.Add("zremrangebyscore", 4, W, 1, 1, 1, ctx => ZRemRange(ctx, RangeType.Score), "sortedset", "write sortedset slow");
        t.Add("zremrangebylex", 4, W, 1, 1, 1, ctx => ZRemRange(ctx, RangeType.Lex), "sortedset", "write sortedset slow");
        t.Add("zscan", -3, R, 1, 1, 1, ZScan, "sortedset", "read sortedset slow");
    }

    // ---------------------------------------------------------------- parsing

    /// <summary>getDoubleFromObject: strtod over the whole string; rejects overflow/underflow (ERANGE) and NaN.</summary>
    private static bool TryParseScore(ReadOnlySpan<byte> s, out double v)
    {
        if (!TryParsePlain(s, out v) && !Numbers.TryParseDouble(s, out v)) return false;
        if (double.IsInfinity(v))
        {
            // Only the literal forms; "1e400" overflows (ERANGE) and is rejected by redis.
            int i = s[0] is (byte)'+' or (byte)'-' ? 1 : 0;
            return s.Length > i && (s[i] | 0x20) == 'i';
        }
        if (v == 0)
        {
            foreach (var c in s)
            {
                if (c is (byte)'e' or (byte)'E') break;
                if (c is >= (byte)'1' and <= (byte)'9') return false; // underflow to zero (ERANGE)
            }
        }
        return true;
    }

    /// <summary>
    /// Allocation-free parse of the common decimal forms (digits, sign, '.', exponent); anything else (inf, nan,
    /// spaces...) is left to <see cref="Numbers.TryParseDouble"/>.
    /// </summary>
    private static bool TryParsePlain(ReadOnlySpan<byte> s, out double v)
    {
        v = 0;
        if (s.Length == 0 || s.Length > 64) return false;
        foreach (var c in s)
            if (c is not ((>= (byte)'0' and <= (byte)'9') or (byte)'.' or (byte)'-' or (byte)'+' or (byte)'e' or (byte)'E')) return false;
        return double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out v);
    }

    /// <summary>strtod as zslParseRange uses it: leading white space allowed, empty string is 0, overflow is inf.</summary>
    private static bool TryStrtod(ReadOnlySpan<byte> s, out double v)
    {
        v = 0;
        int i = 0;
        while (i < s.Length && s[i] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f') i++;
        if (s.Length == 0) return true;
        if (i == s.Length) return false;
        return TryParsePlain(s[i..], out v) || Numbers.TryParseDouble(s[i..], out v);
    }

    private struct ScoreRange
    {
        public double Min, Max;
        public bool MinEx, MaxEx;
        public readonly bool GteMin(double v) => MinEx ? v > Min : v >= Min;
        public readonly bool LteMax(double v) => MaxEx ? v < Max : v <= Max;
    }

    private static bool ParseRangeItem(ReadOnlySpan<byte> s, out double v, out bool ex)
    {
        ex = s.Length > 0 && s[0] == '(';
        return TryStrtod(ex ? s[1..] : s, out v);
    }

    private static bool TryParseScoreRange(CommandContext ctx, int minIdx, int maxIdx, out ScoreRange r)
    {
        r = default;
        if (!ParseRangeItem(ctx.Arg(minIdx), out r.Min, out r.MinEx) || !ParseRangeItem(ctx.Arg(maxIdx), out r.Max, out r.MaxEx))
        {
            ctx.Error("ERR min or max is not a float");
            return false;
        }
        return true;
    }

    /// <summary>Lex range bound: Kind -1 = "-" (minus infinity), 1 = "+" (plus infinity), 0 = a value.</summary>
    private struct LexBound
    {
        public int Kind;
        public byte[] Value;
        public bool Ex;
    }

    private struct LexRange
    {
        public LexBound Min, Max;

        public readonly bool GteMin(byte[] m) => Min.Kind switch
        {
            -1 => true,
            1 => false,
            _ => Min.Ex ? m.AsSpan().SequenceCompareTo(Min.Value) > 0 : m.AsSpan().SequenceCompareTo(Min.Value) >= 0,
        };

        public readonly bool LteMax(byte[] m) => Max.Kind switch
        {
            1 => true,
            -1 => false,
            _ => Max.Ex ? m.AsSpan().SequenceCompareTo(Max.Value) < 0 : m.AsSpan().SequenceCompareTo(Max.Value) <= 0,
        };
    }

    private static bool ParseLexItem(ReadOnlySpan<byte> s, out LexBound b)
    {
        b = new LexBound { Value = [] };
        if (s.Length == 0) return false;
        switch (s[0])
        {
            case (byte)'+': b.Kind = 1; return s.Length == 1;
            case (byte)'-': b.Kind = -1; return s.Length == 1;
            case (byte)'(': b.Ex = true; b.Value = s[1..].ToArray(); return true;
            case (byte)'[': b.Value = s[1..].ToArray(); return true;
            default: return false;
        }
    }

    private static bool TryParseLexRange(CommandContext ctx, int minIdx, int maxIdx, out LexRange r)
    {
        r = default;
        if (!ParseLexItem(ctx.Arg(minIdx), out r.Min) || !ParseLexItem(ctx.Arg(maxIdx), out r.Max))
        {
            ctx.Error("ERR min or max not valid string range item");
            return false;
        }
        return true;
    }

    /// <summary>Ascending ranks [first, lastExclusive) of the elements inside a score range.</summary>
    private static (long First, long End) RanksOf(KvZSet z, ScoreRange r)
    {
        long first = z.CountBefore(r, static (rr, s, _) => rr.GteMin(s));
        long end = z.CountBefore(r, static (rr, s, _) => !rr.LteMax(s));
        return (first, Math.Max(first, end));
    }

    private static (long First, long End) RanksOf(KvZSet z, LexRange r)
    {
        long first = z.CountBefore(r, static (rr, _, m) => rr.GteMin(m));
        long end = z.CountBefore(r, static (rr, _, m) => !rr.LteMax(m));
        return (first, Math.Max(first, end));
    }

    // ---------------------------------------------------------------- ZADD & co

    private static void ZAdd(CommandContext ctx, KvZSet.AddFlags flags)
    {
        int scoreIdx = 2;
        bool ch = false;
        while (scoreIdx < ctx.Argc)
        {
            if (ctx.ArgIs(scoreIdx, "nx")) flags |= KvZSet.AddFlags.Nx;
            else if (ctx.ArgIs(scoreIdx, "xx")) flags |= KvZSet.AddFlags.Xx;
            else if (ctx.ArgIs(scoreIdx, "ch")) ch = true;
            else if (ctx.ArgIs(scoreIdx, "incr")) flags |= KvZSet.AddFlags.Incr;
            else if (ctx.ArgIs(scoreIdx, "gt")) flags |= KvZSet.AddFlags.Gt;
            else if (ctx.ArgIs(scoreIdx, "lt")) flags |= KvZSet.AddFlags.Lt;
            else break;
            scoreIdx++;
        }
        bool incr = (flags & KvZSet.AddFlags.Incr) != 0, nx = (flags & KvZSet.AddFlags.Nx) != 0, xx = (flags & KvZSet.AddFlags.Xx) != 0;
        bool gt = (flags & KvZSet.AddFlags.Gt) != 0, lt = (flags & KvZSet.AddFlags.Lt) != 0;
        int elements = ctx.Argc - scoreIdx;
        if (elements % 2 != 0 || elements == 0)
        {
            ctx.SyntaxError();
            return;
        }
        elements /= 2;
        if (nx && xx)
        {
            ctx.Error("ERR XX and NX options at the same time are not compatible");
            return;
        }
        if ((gt && nx) || (lt && nx) || (gt && lt))
        {
            ctx.Error("ERR GT, LT, and/or NX options at the same time are not compatible");
            return;
        }
        if (incr && elements > 1)
        {
            ctx.Error("ERR INCR option supports a single increment-element pair");
            return;
        }
        Span<double> scores = elements <= 64 ? stackalloc double[elements] : new double[elements];
        for (int j = 0; j < elements; j++)
        {
            if (!TryParseScore(ctx.Arg(scoreIdx + j * 2), out scores[j]))
            {
                ctx.Error(Errors.NotFloat);
                return;
            }
        }
        var key = ctx.Arg(1);
        if (!TryGet<KvZSet>(ctx, key, true, out var z)) return;
        long added = 0, updated = 0, processed = 0;
        double score = 0;
        if (z is null)
        {
            if (xx)
            {
                ReplyZAdd(ctx, incr, ch, processed, score, added, updated);
                return;
            }
            var lim0 = TypeLimits.Of(ctx);
            z = new KvZSet(lim0.ZSetEntries == 0 || lim0.ZSetValue < ctx.Arg(scoreIdx + 1).Length);
            ctx.Db.Set(key, z);
            ctx.SignalKeyAsReady(ctx.Db, key);
            ctx.Notify(KeyspaceEvents.New, "new", key);
        }
        var lim = TypeLimits.Of(ctx);
        for (int j = 0; j < elements; j++)
        {
            var r = z.Add(ctx.Arg(scoreIdx + 1 + j * 2), scores[j], flags, lim.ZSetEntries, lim.ZSetValue, out double newScore);
            if (r == KvZSet.AddResult.NaN)
            {
                ctx.Error("ERR resulting score is not a number (NaN)");
                if (added + updated > 0)
                {
                    ctx.KeyModified(key);
                    ctx.Notify(KeyspaceEvents.ZSet, incr ? "zincr" : "zadd", key);
                }
                return;
            }
            if ((r & KvZSet.AddResult.Added) != 0) added++;
            if ((r & KvZSet.AddResult.Updated) != 0) updated++;
            if ((r & KvZSet.AddResult.Nop) == 0) processed++;
            score = newScore;
        }
        ctx.Dirty(added + updated);
        ReplyZAdd(ctx, incr, ch, processed, score, added, updated);
        if (added + updated > 0)
        {
            ctx.KeyModified(key);
            ctx.Notify(KeyspaceEvents.ZSet, incr ? "zincr" : "zadd", key);
        }
    }

    private static void ReplyZAdd(CommandContext ctx, bool incr, bool ch, long processed, double score, long added, long updated)
    {
        if (incr)
        {
            if (processed > 0) ctx.Reply.Double(score);
            else ctx.Reply.Null();
        }
        else ctx.Reply.Integer(ch ? added + updated : added);
    }

    private static void ZRem(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (!TryGet<KvZSet>(ctx, key, true, out var z)) return;
        if (z is null)
        {
            ctx.Reply.Integer(0);
            return;
        }
        long deleted = 0;
        bool keyRemoved = false;
        for (int j = 2; j < ctx.Argc; j++)
        {
            if (z.Remove(ctx.Arg(j))) deleted++;
            if (DeleteIfEmpty(ctx, key, z))
            {
                keyRemoved = true;
                break;
            }
        }
        if (deleted > 0)
        {
            ctx.KeyModified(key);
            ctx.Notify(KeyspaceEvents.ZSet, "zrem", key);
            if (keyRemoved) ctx.Notify(KeyspaceEvents.Generic, "del", key);
            ctx.Dirty(deleted);
        }
        ctx.Reply.Integer(deleted);
    }

    private static void ZScore(CommandContext ctx)
    {
        if (!TryGet<KvZSet>(ctx, ctx.Arg(1), false, out var z)) return;
        if (z is not null && z.TryGetScore(ctx.Arg(2), out var s)) ctx.Reply.Double(s);
        else ctx.Reply.Null();
    }

    private static void ZMScore(CommandContext ctx)
    {
        if (!TryGet<KvZSet>(ctx, ctx.Arg(1), false, out var z)) return;
        ctx.Reply.ArrayHeader(ctx.Argc - 2);
        for (int j = 2; j < ctx.Argc; j++)
        {
            if (z is not null && z.TryGetScore(ctx.Arg(j), out var s)) ctx.Reply.Double(s);
            else ctx.Reply.Null();
        }
    }

    private static void ZCard(CommandContext ctx)
    {
        if (!TryGet<KvZSet>(ctx, ctx.Arg(1), false, out var z)) return;
        ctx.Reply.Integer(z?.Count ?? 0);
    }

    private static void ZCount(CommandContext ctx)
    {
        if (!TryParseScoreRange(ctx, 2, 3, out var r)) return;
        if (!TryGet<KvZSet>(ctx, ctx.Arg(1), false, out var z)) return;
        if (z is null)
        {
            ctx.Reply.Integer(0);
            return;
        }
        var (first, end) = RanksOf(z, r);
        ctx.Reply.Integer(end - first);
    }

    private static void ZLexCount(CommandContext ctx)
    {
        if (!TryParseLexRange(ctx, 2, 3, out var r)) return;
        if (!TryGet<KvZSet>(ctx, ctx.Arg(1), false, out var z)) return;
        if (z is null)
        {
            ctx.Reply.Integer(0);
            return;
        }
        var (first, end) = RanksOf(z, r);
        ctx.Reply.Integer(end - first);
    }

    private static void ZRank(CommandContext ctx, bool reverse)
    {
        if (!TryGet<KvZSet>(ctx, ctx.Arg(1), false, out var z)) return;
        if (z is null)
        {
            ctx.Reply.Null();
            return;
        }
        long rank = z.Rank(ctx.Arg(2));
        if (rank < 0) ctx.Reply.Null();
        else ctx.Reply.Integer(reverse ? z.Count - 1 - rank : rank);
    }

    // ---------------------------------------------------------------- ZRANGE family

    private static void ZRangeGeneric(CommandContext ctx, int argStart, byte[]? dstKey, RangeType type, bool? reverseFixed)
    {
        bool store = dstKey is not null;
        int minIdx = argStart + 1, maxIdx = argStart + 2;
        bool withScores = false;
        long offset = 0, limit = -1;
        bool? reverse = reverseFixed;
        for (int j = argStart + 3; j < ctx.Argc; j++)
        {
            int left = ctx.Argc - j - 1;
            if (!store && ctx.ArgIs(j, "withscores")) withScores = true;
            else if (ctx.ArgIs(j, "limit") && left >= 2)
            {
                if (!ctx.TryGetLong(j + 1, out offset) || !ctx.TryGetLong(j + 2, out limit)) return;
                j += 2;
            }
            else if (reverseFixed is null && ctx.ArgIs(j, "rev")) reverse = true;
            else if (type == RangeType.Auto && ctx.ArgIs(j, "bylex")) type = RangeType.Lex;
            else if (type == RangeType.Auto && ctx.ArgIs(j, "byscore")) type = RangeType.Score;
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        bool rev = reverse ?? false;
        if (type == RangeType.Auto) type = RangeType.Rank;
        if (limit != -1 && type == RangeType.Rank)
        {
            ctx.Error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
            return;
        }
        if (withScores && type == RangeType.Lex)
        {
            ctx.Error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
            return;
        }
        if (rev && type is RangeType.Score or RangeType.Lex) (minIdx, maxIdx) = (maxIdx, minIdx);
        long start = 0, end = 0;
        ScoreRange sr = default;
        LexRange lr = default;
        switch (type)
        {
            case RangeType.Rank:
                if (!ctx.TryGetLong(minIdx, out start) || !ctx.TryGetLong(maxIdx, out end)) return;
                break;
            case RangeType.Score:
                if (!TryParseScoreRange(ctx, minIdx, maxIdx, out sr)) return;
                break;
            default:
                if (!TryParseLexRange(ctx, minIdx, maxIdx, out lr)) return;
                break;
        }
        var o = ctx.Lookup(ctx.Arg(argStart));
        if (o is null)
        {
            if (store) StoreResult(ctx, dstKey!, null);
            else ctx.Reply.ArrayHeader(0);
            return;
        }
        if (o is not KvZSet z)
        {
            ctx.WrongType();
            return;
        }
        // Compute the selected ascending ranks [a, b) and the visiting direction.
        long n = z.Count, a, b;
        if (type == RangeType.Rank)
        {
            if (start < 0) start += n;
            if (end < 0) end += n;
            if (start < 0) start = 0;
            if (start > end || start >= n) { a = b = 0; }
            else
            {
                if (end >= n) end = n - 1;
                if (!rev) { a = start; b = end + 1; }
                else { a = n - 1 - end; b = n - start; }
            }
        }
        else
        {
            var (first, last) = type == RangeType.Score ? RanksOf(z, sr) : RanksOf(z, lr);
            if ((offset > 0 && offset >= n) || offset < 0) { a = b = 0; }
            else
            {
                long cnt = last - first - offset;
                if (cnt < 0) cnt = 0;
                if (limit >= 0 && cnt > limit) cnt = limit;
                if (!rev) { a = first + offset; b = a + cnt; }
                else { b = last - offset; a = b - cnt; }
            }
        }
        var items = z.Range(a, b - 1, rev);
        if (store)
        {
            StoreResult(ctx, dstKey!, items);
            return;
        }
        long count = b - a;
        bool scores = withScores;
        if (scores && ctx.Reply.Resp == 2) ctx.Reply.ArrayHeader(count * 2);
        else ctx.Reply.ArrayHeader(count);
        foreach (var (m, s) in items)
        {
            if (scores && ctx.Reply.Resp > 2) ctx.Reply.ArrayHeader(2);
            ctx.Reply.Bulk(m);
            if (scores) ctx.Reply.Double(s);
        }
    }

    private static void StoreResult(CommandContext ctx, byte[] dstKey, IEnumerable<(byte[] Member, double Score)>? items)
    {
        var lim = TypeLimits.Of(ctx);
        var dst = new KvZSet();
        if (items is not null)
            foreach (var (m, s) in items) dst.Add(m, s, KvZSet.AddFlags.None, lim.ZSetEntries, lim.ZSetValue, out _);
        if (dst.Count > 0)
        {
            // setKey: lookupKeyWrite, then dbAdd (signals waiters) or dbOverwrite (does not).
            ctx.ExpireIfNeeded(ctx.Db, dstKey);
            if (ctx.Db.Set(dstKey, dst))
            {
                ctx.SignalKeyAdded(ctx.Db, dstKey, dst);
                ctx.Notify(KeyspaceEvents.New, "new", dstKey);
            }
            ctx.KeyModified(dstKey);
            ctx.Reply.Integer(dst.Count);
            ctx.Notify(KeyspaceEvents.ZSet, "zrangestore", dstKey);
            ctx.Dirty();
        }
        else
        {
            ctx.Reply.Integer(0);
            if (ctx.Db.Delete(dstKey))
            {
                ctx.KeyModified(dstKey);
                ctx.Notify(KeyspaceEvents.Generic, "del", dstKey);
                ctx.Dirty();
            }
        }
    }

    private static void ZRemRange(CommandContext ctx, RangeType type)
    {
        long start = 0, end = 0;
        ScoreRange sr = default;
        LexRange lr = default;
        if (type == RangeType.Rank)
        {
            if (!ctx.TryGetLong(2, out start) || !ctx.TryGetLong(3, out end)) return;
        }
        else if (type == RangeType.Score)
        {
            if (!TryParseScoreRange(ctx, 2, 3, out sr)) return;
        }
        else if (!TryParseLexRange(ctx, 2, 3, out lr)) return;
        var key = ctx.Arg(1);
        if (!TryGet<KvZSet>(ctx, key, true, out var z)) return;
        if (z is null)
        {
            ctx.Reply.Integer(0);
            return;
        }
        long a, b;
        if (type == RangeType.Rank)
        {
            long n = z.Count;
            if (start < 0) start += n;
            if (end < 0) end += n;
            if (start < 0) start = 0;
            if (start > end || start >= n)
            {
                ctx.Reply.Integer(0);
                return;
            }
            if (end >= n) end = n - 1;
            a = start; b = end + 1;
        }
        else (a, b) = type == RangeType.Score ? RanksOf(z, sr) : RanksOf(z, lr);
        long deleted = b - a;
        z.RemoveRange(a, b - 1);
        bool keyRemoved = DeleteIfEmpty(ctx, key, z);
        if (deleted > 0)
        {
            ctx.KeyModified(key);
            ctx.Notify(KeyspaceEvents.ZSet, type == RangeType.Rank ? "zremrangebyrank" : type == RangeType.Score ? "zremrangebyscore" : "zremrangebylex", key);
            if (keyRemoved) ctx.Notify(KeyspaceEvents.Generic, "del", key);
        }
        ctx.Dirty(deleted);
        ctx.Reply.Integer(deleted);
    }

    // ---------------------------------------------------------------- pops

    /// <summary>genericZpopCommand for one key (the caller found it non-empty) or a missing key.</summary>
    private static void PopGeneric(CommandContext ctx, ReadOnlySpan<byte> key, KvZSet? z, bool max, bool emitKey, long count, bool nested)
    {
        if (z is null)
        {
            ctx.Reply.ArrayHeader(0);
            return;
        }
        if (count == 0)
        {
            ctx.Reply.ArrayHeader(0);
            return;
        }
        if (count == -1) count = 1;
        long llen = z.Count;
        long rangelen = Math.Min(count, llen);
        if (!nested && !emitKey) ctx.Reply.ArrayHeader(rangelen * 2);
        else if (nested && !emitKey) ctx.Reply.ArrayHeader(rangelen);
        else if (!nested && emitKey)
        {
            ctx.Reply.ArrayHeader(rangelen * 2 + 1);
            ctx.Reply.Bulk(key);
        }
        else
        {
            ctx.Reply.ArrayHeader(2);
            ctx.Reply.Bulk(key);
            ctx.Reply.ArrayHeader(rangelen);
        }
        for (long i = 0; i < rangelen; i++)
        {
            var (m, s) = z.At(max ? z.Count - 1 : 0);
            z.Remove(m);
            ctx.Dirty();
            if (i == 0)
            {
                ctx.Notify(KeyspaceEvents.ZSet, max ? "zpopmax" : "zpopmin", key);
                ctx.KeyModified(key);
            }
            if (nested) ctx.Reply.ArrayHeader(2);
            ctx.Reply.Bulk(m);
            ctx.Reply.Double(s);
        }
        if (DeleteIfEmpty(ctx, key, z)) ctx.Notify(KeyspaceEvents.Generic, "del", key);
    }

    private static void ZPop(CommandContext ctx, bool max)
    {
        if (ctx.Argc > 3)
        {
            ctx.SyntaxError();
            return;
        }
        long count = -1;
        if (ctx.Argc == 3 && !TryGetPositiveLong(ctx, 2, out count)) return;
        bool nested = ctx.Reply.Resp > 2 && count != -1;
        var key = ctx.Arg(1);
        if (!TryGet<KvZSet>(ctx, key, true, out var z)) return;
        PopGeneric(ctx, key, z, max, false, count, nested);
    }

    private static void BZPop(CommandContext ctx, bool max)
    {
        if (!TryGetBlockTimeout(ctx, ctx.Argc - 1, out long timeout)) return;
        for (int j = 1; j < ctx.Argc - 1; j++)
        {
            var key = ctx.Arg(j);
            if (ctx.ServingBlocked && ctx.ServingKey is { } ready)
            {
                // Serve from the ready key only; a missing, empty or other-typed value leaves the client blocked.
                if (!key.SequenceEqual(ready) || ctx.Lookup(key, false) is not KvZSet { Count: > 0 }) continue;
            }
            if (!TryGet<KvZSet>(ctx, key, true, out var z)) return;
            if (z is null || z.Count == 0) continue;
            PopGeneric(ctx, key, z, max, true, -1, false);
            ctx.PropagateAs = [B(max ? "ZPOPMAX" : "ZPOPMIN"), ctx.ArgBytes(j)];
            return;
        }
        if (ctx.ServingBlocked) return;
        if (DenyBlocking(ctx))
        {
            ctx.Reply.NullArray();
            return;
        }
        var keys = new byte[ctx.Argc - 2][];
        for (int j = 1; j < ctx.Argc - 1; j++) keys[j - 1] = ctx.ArgBytes(j);
        ctx.BlockOnKeys(keys, timeout);
    }

    private static void ZMPop(CommandContext ctx, int numKeysIdx, bool block)
    {
        if (!ListCommands.TryParseMPop(ctx, numKeysIdx, "min", "max", out int numKeys, out bool min, out long count)) return;
        long timeout = 0;
        if (block && !TryGetBlockTimeout(ctx, 1, out timeout)) return;
        for (int j = numKeysIdx + 1; j <= numKeysIdx + numKeys; j++)
        {
            var key = ctx.Arg(j);
            if (ctx.ServingBlocked && ctx.ServingKey is { } ready)
            {
                if (!key.SequenceEqual(ready) || ctx.Lookup(key, false) is not KvZSet { Count: > 0 }) continue;
            }
            if (!TryGet<KvZSet>(ctx, key, true, out var z)) return;
            if (z is null || z.Count == 0) continue;
            long n = Math.Min(count, z.Count);
            PopGeneric(ctx, key, z, !min, true, count, true);
            ctx.PropagateAs = [B(min ? "ZPOPMIN" : "ZPOPMAX"), ctx.ArgBytes(j), LongBytes(n)];
            return;
        }
        if (!block || !ctx.ServingBlocked && DenyBlocking(ctx))
        {
            ctx.Reply.NullArray();
            return;
        }
        if (ctx.ServingBlocked) return;
        var keys = new byte[numKeys][];
        for (int j = 0; j < numKeys; j++) keys[j] = ctx.ArgBytes(numKeysIdx + 1 + j);
        ctx.BlockOnKeys(keys, timeout);
    }

    // ---------------------------------------------------------------- set algebra

    private sealed class Source
    {
        public KvObject? Obj;
        public double Weight = 1.0;
        public long Length => Obj?.Count ?? 0;

        public IEnumerable<(byte[] Member, double Score)> Items()
        {
            if (Obj is KvZSet z) return z.Ascending();
            if (Obj is KvSet s) return s.Members().Select(m => (m, 1.0));
            return [];
        }

        public bool TryFind(byte[] member, out double score)
        {
            score = 0;
            if (Obj is KvZSet z) return z.TryGetScore(member, out score);
            if (Obj is KvSet s && s.Contains(member)) { score = 1.0; return true; }
            return false;
        }
    }

    private static double Agg(double target, double val, Aggregate a)
    {
        switch (a)
        {
            case Aggregate.Sum:
                target += val;
                return double.IsNaN(target) ? 0.0 : target;
            case Aggregate.Min: return val < target ? val : target;
            default: return val > target ? val : target;
        }
    }

    private static void SetOp(CommandContext ctx, byte[]? dstKey, int numKeysIdx, SetOpKind op, bool cardOnly)
    {
        if (!ctx.TryGetLong(numKeysIdx, out long setNum)) return;
        if (setNum < 1)
        {
            ctx.Error($"ERR at least 1 input key is needed for '{ctx.Command.FullName}' command");
            return;
        }
        if (setNum > ctx.Argc - (numKeysIdx + 1))
        {
            ctx.SyntaxError();
            return;
        }
        var src = new Source[setNum];
        int j = numKeysIdx + 1;
        for (int i = 0; i < setNum; i++, j++)
        {
            var o = ctx.Lookup(ctx.Arg(j));
            if (o is not null && o is not KvZSet && o is not KvSet)
            {
                ctx.WrongType();
                return;
            }
            src[i] = new Source { Obj = o as KvObject };
        }
        var aggregate = Aggregate.Sum;
        bool withScores = false;
        long limit = 0;
        while (j < ctx.Argc)
        {
            int remaining = ctx.Argc - j;
            if (op != SetOpKind.Diff && !cardOnly && remaining >= setNum + 1 && ctx.ArgIs(j, "weights"))
            {
                j++;
                for (int i = 0; i < setNum; i++, j++)
                {
                    if (!TryParseScore(ctx.Arg(j), out src[i].Weight))
                    {
                        ctx.Error("ERR weight value is not a float");
                        return;
                    }
                }
            }
            else if (op != SetOpKind.Diff && !cardOnly && remaining >= 2 && ctx.ArgIs(j, "aggregate"))
            {
                j++;
                if (ctx.ArgIs(j, "sum")) aggregate = Aggregate.Sum;
                else if (ctx.ArgIs(j, "min")) aggregate = Aggregate.Min;
                else if (ctx.ArgIs(j, "max")) aggregate = Aggregate.Max;
                else
                {
                    ctx.SyntaxError();
                    return;
                }
                j++;
            }
            else if (remaining >= 1 && dstKey is null && !cardOnly && ctx.ArgIs(j, "withscores"))
            {
                j++;
                withScores = true;
            }
            else if (cardOnly && remaining >= 2 && ctx.ArgIs(j, "limit"))
            {
                j++;
                if (!TryGetPositiveLong(ctx, j, out limit, "ERR LIMIT can't be negative")) return;
                j++;
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        if (op != SetOpKind.Diff) src = src.OrderBy(s => s.Length).ToArray();
        var dst = new KvZSet(skiplist: true);
        long cardinality = 0;
        if (op == SetOpKind.Inter)
        {
            if (src[0].Length > 0)
            {
                foreach (var (m, s0) in src[0].Items())
                {
                    double score = src[0].Weight * s0;
                    if (double.IsNaN(score)) score = 0;
                    int k;
                    for (k = 1; k < src.Length; k++)
                    {
                        double value;
                        if (ReferenceEquals(src[k].Obj, src[0].Obj)) value = s0 * src[k].Weight;
                        else if (src[k].TryFind(m, out value)) value *= src[k].Weight;
                        else break;
                        score = Agg(score, value, aggregate);
                    }
                    if (k != src.Length) continue;
                    if (cardOnly)
                    {
                        cardinality++;
                        if (limit != 0 && cardinality >= limit) break;
                    }
                    else dst.Add(m, score, KvZSet.AddFlags.None, 0, 0, out _);
                }
            }
        }
        else if (op == SetOpKind.Union)
        {
            var acc = new Dictionary<byte[], double>(ByteArrayComparer.Instance);
            var order = new List<byte[]>();
            foreach (var s in src)
            {
                if (s.Length == 0) continue;
                foreach (var (m, sc) in s.Items())
                {
                    double score = s.Weight * sc;
                    if (double.IsNaN(score)) score = 0;
                    if (acc.TryGetValue(m, out var existing)) acc[m] = Agg(existing, score, aggregate);
                    else { acc[m] = score; order.Add(m); }
                }
            }
            foreach (var m in order) dst.Add(m, acc[m], KvZSet.AddFlags.None, 0, 0, out _);
        }
        else
        {
            if (src[0].Length > 0)
            {
                foreach (var (m, s0) in src[0].Items())
                {
                    bool found = false;
                    for (int k = 1; k < src.Length && !found; k++)
                        if (src[k].Length > 0 && src[k].TryFind(m, out _)) found = true;
                    if (!found) dst.Add(m, s0, KvZSet.AddFlags.None, 0, 0, out _);
                }
            }
        }
        if (dstKey is not null)
        {
            if (dst.Count > 0)
            {
                var lim = TypeLimits.Of(ctx);
                dst.ConvertToPackedIfSmall(lim.ZSetEntries, lim.ZSetValue);
                // setKey: lookupKeyWrite, then dbAdd (signals waiters) or dbOverwrite (does not).
                ctx.ExpireIfNeeded(ctx.Db, dstKey);
                if (ctx.Db.Set(dstKey, dst))
                {
                    ctx.SignalKeyAdded(ctx.Db, dstKey, dst);
                    ctx.Notify(KeyspaceEvents.New, "new", dstKey);
                }
                ctx.KeyModified(dstKey);
                ctx.Reply.Integer(dst.Count);
                ctx.Notify(KeyspaceEvents.ZSet, ctx.Command.Name, dstKey);
                ctx.Dirty();
            }
            else
            {
                ctx.Reply.Integer(0);
                if (ctx.Db.Delete(dstKey))
                {
                    ctx.KeyModified(dstKey);
                    ctx.Notify(KeyspaceEvents.Generic, "del", dstKey);
                    ctx.Dirty();
                }
            }
        }
        else if (cardOnly) ctx.Reply.Integer(cardinality);
        else
        {
            long len = dst.Count;
            ctx.Reply.ArrayHeader(withScores && ctx.Reply.Resp == 2 ? len * 2 : len);
            foreach (var (m, s) in dst.Ascending())
            {
                if (withScores && ctx.Reply.Resp > 2) ctx.Reply.ArrayHeader(2);
                ctx.Reply.Bulk(m);
                if (withScores) ctx.Reply.Double(s);
            }
        }
    }

    // ---------------------------------------------------------------- ZRANDMEMBER / ZSCAN

    private static void ZRandMember(CommandContext ctx)
    {
        if (ctx.Argc >= 3)
        {
            if (!TryGetRangeLong(ctx, 2, -long.MaxValue, long.MaxValue, out long l)) return;
            bool withScores = false;
            if (ctx.Argc > 4 || (ctx.Argc == 4 && !ctx.ArgIs(3, "withscores")))
            {
                ctx.SyntaxError();
                return;
            }
            if (ctx.Argc == 4)
            {
                withScores = true;
                if (l < -long.MaxValue / 2 || l > long.MaxValue / 2)
                {
                    ctx.Error("ERR value is out of range");
                    return;
                }
            }
            RandWithCount(ctx, l, withScores);
            return;
        }
        if (!TryGet<KvZSet>(ctx, ctx.Arg(1), false, out var z)) return;
        if (z is null) ctx.Reply.Null();
        else ctx.Reply.Bulk(z.Random(Random.Shared).Member);
    }

    private static void RandWithCount(CommandContext ctx, long l, bool withScores)
    {
        if (!TryGet<KvZSet>(ctx, ctx.Arg(1), false, out var z)) return;
        if (z is null)
        {
            ctx.Reply.ArrayHeader(0);
            return;
        }
        long size = z.Count;
        bool uniq = l >= 0;
        long count = uniq ? l : -l;
        if (count == 0)
        {
            ctx.Reply.ArrayHeader(0);
            return;
        }
        var rng = Random.Shared;
        void Emit((byte[] Member, double Score) e)
        {
            if (withScores && ctx.Reply.Resp > 2) ctx.Reply.ArrayHeader(2);
            ctx.Reply.Bulk(e.Member);
            if (withScores) ctx.Reply.Double(e.Score);
        }
        if (!uniq || count == 1)
        {
            ctx.Reply.ArrayHeader(withScores && ctx.Reply.Resp == 2 ? count * 2 : count);
            while (count-- > 0) Emit(z.Random(rng));
            return;
        }
        long replySize = Math.Min(count, size);
        ctx.Reply.ArrayHeader(withScores && ctx.Reply.Resp == 2 ? replySize * 2 : replySize);
        if (count >= size)
        {
            // zuiNext walks a sorted set from its tail.
            foreach (var e in z.Range(0, size - 1, reverse: true)) Emit(e);
            return;
        }
        var all = z.Ascending().ToArray();
        for (int i = 0; i < count; i++)
        {
            int k = i + rng.Next(all.Length - i);
            (all[i], all[k]) = (all[k], all[i]);
            Emit(all[i]);
        }
    }

    private static void ZScan(CommandContext ctx)
    {
        if (!KeyCommands.TryParseCursor(ctx, 2, out ulong cursor)) return;
        if (!TryGet<KvZSet>(ctx, ctx.Arg(1), false, out var z)) return;
        if (z is null)
        {
            ctx.Reply.ArrayHeader(2);
            ctx.Reply.Bulk("0"u8);
            ctx.Reply.ArrayHeader(0);
            return;
        }
        bool packed = z.IsPacked;
        ScanReply(ctx, cursor, (c, visit) => z.Scan(c, (m, s) =>
            visit(m, Encoding.ASCII.GetBytes(packed ? D2String(s) : Resp.ReplyWriter.FormatDouble17g(s)))), true);
    }
}
