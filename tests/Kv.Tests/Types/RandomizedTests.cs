using System.Globalization;
using System.Text;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Types;

/// <summary>
/// Seeded random command sequences sent to redis-server 7.0.15 and kv-server, every reply compared byte for byte.
/// Only commands whose replies are deterministic are generated (no random pops, no hash-ordered replies of
/// hashtable-encoded sets/hashes). The seed is printed; set KV_TYPES_SEED to replay one.
/// </summary>
public class RandomizedTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private Random NewRandom(string name)
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("KV_TYPES_SEED"), out var s) ? s : Environment.TickCount;
        output.WriteLine($"{name}: seed {seed}");
        return new Random(seed);
    }

    private static string F(double d) => d.ToString("R", CultureInfo.InvariantCulture);

    [Fact]
    public async Task SortedSetOperations()
    {
        var rng = NewRandom(nameof(SortedSetOperations));
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        string[] keys = ["z1", "z2", "z3"];
        double[] scores = [0, 1, 1.5, 2, -3, 10, 0.1, 1e-3, 7, 100, -0.5];
        string Member() => "m" + rng.Next(300);
        string Score() => F(scores[rng.Next(scores.Length)] + (rng.Next(4) == 0 ? rng.Next(50) : 0));
        string Key() => keys[rng.Next(keys.Length)];
        string Bound(bool max)
        {
            int k = rng.Next(6);
            if (k == 0) return max ? "+inf" : "-inf";
            if (k == 1) return "(" + Score();
            return Score();
        }
        var sb = new StringBuilder();
        for (int i = 0; i < 2500; i++)
        {
            var k = Key();
            switch (rng.Next(22))
            {
                case 0: case 1: case 2: case 3:
                {
                    var line = new StringBuilder("ZADD ").Append(k);
                    string[] opts = ["", "", "", "NX", "XX", "GT", "LT", "CH", "XX CH", "GT CH"];
                    line.Append(' ').Append(opts[rng.Next(opts.Length)]);
                    int n = 1 + rng.Next(8);
                    for (int j = 0; j < n; j++) line.Append(' ').Append(Score()).Append(' ').Append(Member());
                    sb.AppendLine(line.ToString());
                    break;
                }
                case 4: sb.AppendLine($"ZINCRBY {k} {Score()} {Member()}"); break;
                case 5: sb.AppendLine($"ZREM {k} {Member()} {Member()}"); break;
                case 6: sb.AppendLine($"ZRANGE {k} {rng.Next(-50, 50)} {rng.Next(-50, 200)} {(rng.Next(2) == 0 ? "WITHSCORES" : "")}"); break;
                case 7: sb.AppendLine($"ZRANGE {k} {rng.Next(-50, 50)} {rng.Next(-50, 200)} REV WITHSCORES"); break;
                case 8: sb.AppendLine($"ZRANGEBYSCORE {k} {Bound(false)} {Bound(true)} WITHSCORES LIMIT {rng.Next(5)} {rng.Next(-1, 20)}"); break;
                case 9: sb.AppendLine($"ZREVRANGEBYSCORE {k} {Bound(true)} {Bound(false)} LIMIT {rng.Next(5)} {rng.Next(-1, 20)}"); break;
                case 10: sb.AppendLine($"ZRANK {k} {Member()}"); break;
                case 11: sb.AppendLine($"ZREVRANK {k} {Member()}"); break;
                case 12: sb.AppendLine($"ZCOUNT {k} {Bound(false)} {Bound(true)}"); break;
                case 13: sb.AppendLine($"ZSCORE {k} {Member()}"); break;
                case 14: if (rng.Next(4) == 0) sb.AppendLine($"ZREMRANGEBYRANK {k} {rng.Next(-10, 10)} {rng.Next(-10, 10)}"); break;
                case 15: if (rng.Next(4) == 0) sb.AppendLine($"ZREMRANGEBYSCORE {k} {Bound(false)} {Bound(true)}"); break;
                case 16: sb.AppendLine($"ZPOP{(rng.Next(2) == 0 ? "MIN" : "MAX")} {k} {rng.Next(3)}"); break;
                case 17: sb.AppendLine($"ZCARD {k}"); break;
                case 18: sb.AppendLine($"ZUNIONSTORE u 2 {Key()} {Key()} WEIGHTS {Score()} 1 AGGREGATE {(rng.Next(3) switch { 0 => "SUM", 1 => "MIN", _ => "MAX" })}"); sb.AppendLine("ZRANGE u 0 -1 WITHSCORES"); break;
                case 19: sb.AppendLine($"ZINTER 2 {Key()} {Key()} WITHSCORES"); break;
                case 20: sb.AppendLine($"ZDIFF 2 {Key()} {Key()} WITHSCORES"); break;
                default: sb.AppendLine($"ZRANGESTORE r {k} {Bound(false)} {Bound(true)} BYSCORE LIMIT 0 {rng.Next(1, 200)}"); sb.AppendLine("ZRANGE r 0 -1 WITHSCORES"); break;
            }
            if (i % 200 == 0) foreach (var key in keys) sb.AppendLine($"OBJECT ENCODING {key}");
        }
        foreach (var key in keys) sb.AppendLine($"ZRANGE {key} 0 -1 WITHSCORES");
        await d.RunAsync(sb.ToString());
    }

    [Fact]
    public async Task LexOperationsOnEqualScores()
    {
        var rng = NewRandom(nameof(LexOperationsOnEqualScores));
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        string Member() => ((char)('a' + rng.Next(26))).ToString() + (rng.Next(3) == 0 ? ((char)('a' + rng.Next(26))).ToString() : "");
        string Bound(bool max)
        {
            int k = rng.Next(5);
            if (k == 0) return max ? "+" : "-";
            return (k % 2 == 0 ? "(" : "[") + Member();
        }
        var sb = new StringBuilder();
        for (int i = 0; i < 1200; i++)
        {
            var k = rng.Next(2) == 0 ? "l1" : "l2";
            switch (rng.Next(8))
            {
                case 0: case 1: sb.AppendLine($"ZADD {k} 0 {Member()} 0 {Member()} 0 {Member()} 0 {Member()}"); break;
                case 2: sb.AppendLine($"ZRANGEBYLEX {k} {Bound(false)} {Bound(true)}"); break;
                case 3: sb.AppendLine($"ZREVRANGEBYLEX {k} {Bound(true)} {Bound(false)} LIMIT {rng.Next(3)} {rng.Next(-1, 10)}"); break;
                case 4: sb.AppendLine($"ZLEXCOUNT {k} {Bound(false)} {Bound(true)}"); break;
                case 5: if (rng.Next(3) == 0) sb.AppendLine($"ZREMRANGEBYLEX {k} {Bound(false)} {Bound(true)}"); break;
                case 6: sb.AppendLine($"ZRANGE {k} {Bound(false)} {Bound(true)} BYLEX LIMIT {rng.Next(3)} {rng.Next(-1, 10)}"); break;
                default: sb.AppendLine($"ZREM {k} {Member()}"); break;
            }
        }
        await d.RunAsync(sb.ToString());
    }

    [Fact]
    public async Task ListOperations()
    {
        var rng = NewRandom(nameof(ListOperations));
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        string V() => "v" + rng.Next(20);
        var sb = new StringBuilder();
        for (int i = 0; i < 2500; i++)
        {
            var k = rng.Next(3) == 0 ? "la" : "lb";
            switch (rng.Next(16))
            {
                case 0: case 1: sb.AppendLine($"LPUSH {k} {V()} {V()}"); break;
                case 2: case 3: sb.AppendLine($"RPUSH {k} {V()} {V()} {V()}"); break;
                case 4: sb.AppendLine($"LPOP {k} {(rng.Next(2) == 0 ? "" : rng.Next(4).ToString(CultureInfo.InvariantCulture))}"); break;
                case 5: sb.AppendLine($"RPOP {k}"); break;
                case 6: sb.AppendLine($"LRANGE {k} {rng.Next(-30, 30)} {rng.Next(-30, 30)}"); break;
                case 7: sb.AppendLine($"LINSERT {k} {(rng.Next(2) == 0 ? "BEFORE" : "AFTER")} {V()} {V()}"); break;
                case 8: sb.AppendLine($"LREM {k} {rng.Next(-3, 4)} {V()}"); break;
                case 9: sb.AppendLine($"LSET {k} {rng.Next(-30, 30)} {V()}"); break;
                case 10: if (rng.Next(5) == 0) sb.AppendLine($"LTRIM {k} {rng.Next(-30, 30)} {rng.Next(-30, 30)}"); break;
                case 11: sb.AppendLine($"LPOS {k} {V()} RANK {(rng.Next(2) == 0 ? 1 : -1) * rng.Next(1, 4)} COUNT {rng.Next(0, 4)} MAXLEN {rng.Next(0, 30)}"); break;
                case 12: sb.AppendLine($"LINDEX {k} {rng.Next(-30, 30)}"); break;
                case 13: sb.AppendLine($"LMOVE {k} {(k == "la" ? "lb" : "la")} {(rng.Next(2) == 0 ? "LEFT" : "RIGHT")} {(rng.Next(2) == 0 ? "LEFT" : "RIGHT")}"); break;
                case 14: sb.AppendLine($"LLEN {k}"); break;
                default: sb.AppendLine($"RPOPLPUSH {k} {k}"); break;
            }
        }
        sb.AppendLine("LRANGE la 0 -1").AppendLine("LRANGE lb 0 -1");
        await d.RunAsync(sb.ToString());
    }

    [Fact]
    public async Task SmallHashesAndIntsets()
    {
        var rng = NewRandom(nameof(SmallHashesAndIntsets));
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        var sb = new StringBuilder();
        for (int i = 0; i < 2000; i++)
        {
            string f = "f" + rng.Next(40);
            string n = rng.Next(-200, 200).ToString(CultureInfo.InvariantCulture);
            switch (rng.Next(14))
            {
                case 0: case 1: sb.AppendLine($"HSET h {f} {rng.Next(100)} {"f" + rng.Next(40)} x{rng.Next(10)}"); break;
                case 2: sb.AppendLine($"HDEL h {f} {"f" + rng.Next(40)}"); break;
                case 3: sb.AppendLine($"HINCRBY h {f} {rng.Next(-5, 5)}"); break;
                case 4: sb.AppendLine($"HINCRBYFLOAT h {f} {F(rng.Next(-50, 50) / 4.0)}"); break;
                case 5: sb.AppendLine("HGETALL h"); break;
                case 6: sb.AppendLine($"HMGET h {f} {"f" + rng.Next(40)}"); break;
                case 7: sb.AppendLine($"HSETNX h {f} new"); break;
                case 8: case 9: sb.AppendLine($"SADD s {n} {rng.Next(-200, 200)} {rng.Next(-200, 200)}"); break;
                case 10: sb.AppendLine($"SREM s {n} {rng.Next(-200, 200)}"); break;
                case 11: sb.AppendLine("SMEMBERS s"); sb.AppendLine("OBJECT ENCODING s"); break;
                case 12: sb.AppendLine($"SADD t {n}"); sb.AppendLine("SINTER s t"); sb.AppendLine("SDIFF t s"); sb.AppendLine("SUNION t"); break;
                default: sb.AppendLine($"SISMEMBER s {n}"); sb.AppendLine("HLEN h"); sb.AppendLine("SCARD s"); break;
            }
        }
        await d.RunAsync(sb.ToString());
    }
}
