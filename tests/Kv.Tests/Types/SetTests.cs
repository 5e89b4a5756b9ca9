using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Types;

/// <summary>Differential tests of the set commands against redis-server 7.0.15 (raw replies byte for byte).</summary>
public class SetTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    [Fact]
    public async Task IntsetOrderAndBasics()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            SADD s 5 3 -1 100 3 0 -9223372036854775808 9223372036854775807
            SMEMBERS s
            OBJECT ENCODING s
            SCARD s
            SISMEMBER s 3
            SISMEMBER s 4
            SISMEMBER s abc
            SMISMEMBER s 3 4 abc
            SMISMEMBER nos a b
            SISMEMBER nos a
            SCARD nos
            SMEMBERS nos
            SREM s 3 4 abc
            SREM nos a
            SMEMBERS s
            SADD s 007
            OBJECT ENCODING s
            SADD t 1 +2 -0 01 " 3"
            OBJECT ENCODING t
            SADD u 1 2
            SADD u x
            OBJECT ENCODING u
            SREM u 1 2 x
            EXISTS u
            SADD i 9223372036854775808
            OBJECT ENCODING i
            SADD
            SADD s
            SREM s
            SCARD
            SISMEMBER s
            SMISMEMBER s
            SET str v
            SADD str a
            SREM str a
            SMEMBERS str
            SISMEMBER str a
            SMISMEMBER str a
            SCARD str
            SPOP str
            SRANDMEMBER str
            SMOVE str s a
            SSCAN str 0
            SINTER str s
            SUNION s str
            SDIFF str
            SINTERCARD 1 str
            """);
    }

    [Fact]
    public async Task AlgebraOnIntsets()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            SADD a 1 2 3 4 5 6
            SADD b 4 5 6 7 8
            SADD c 5 6 9
            SINTER a b c
            SINTER a b
            SINTER a nob
            SINTER a a
            SUNION a b c
            SUNION a nob
            SUNION nob noc
            SDIFF a b
            SDIFF a b c
            SDIFF a a
            SDIFF nob a
            SDIFF a nob
            SINTERSTORE dst a b
            SMEMBERS dst
            OBJECT ENCODING dst
            SINTERSTORE dst a nob
            EXISTS dst
            SUNIONSTORE dst a b c
            SMEMBERS dst
            SDIFFSTORE dst a b c
            SMEMBERS dst
            SDIFFSTORE dst a a
            EXISTS dst
            SET dst string
            SUNIONSTORE dst a
            TYPE dst
            EXPIRE dst 100
            SINTERSTORE dst a b
            TTL dst
            SINTERCARD 2 a b
            SINTERCARD 2 a b LIMIT 1
            SINTERCARD 2 a b LIMIT 0
            SINTERCARD 3 a b c LIMIT 5
            SINTERCARD 1 nob
            SINTERCARD 0 a
            SINTERCARD -1 a
            SINTERCARD x a
            SINTERCARD 3 a b
            SINTERCARD 2 a b LIMIT -1
            SINTERCARD 2 a b LIMIT x
            SINTERCARD 2 a b FOO 1
            SINTERCARD 2 a b LIMIT
            SINTERSTORE
            SINTERSTORE d
            """);
    }

    [Fact]
    public async Task MoveAndHashtableSets()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        var many = string.Join(' ', Enumerable.Range(0, 513));
        await d.RunAsync($"""
            SADD src a b 1
            SMOVE src dst a
            SMOVE src dst a
            SMOVE src src b
            SMOVE src src zz
            SMOVE nos dst a
            SMOVE src dst 1
            OBJECT ENCODING dst
            SMOVE src dst b
            EXISTS src
            SADD n 1 2
            SMOVE n m 1
            OBJECT ENCODING m
            SMOVE n m 2
            SMEMBERS m
            SMOVE a
            SADD big {many}
            OBJECT ENCODING big
            SCARD big
            SADD fits {string.Join(' ', Enumerable.Range(0, 512))}
            OBJECT ENCODING fits
            !sort SMEMBERS big
            !sort SMEMBERS dst
            !sort SUNION dst m
            !sort SINTER big fits
            SINTERCARD 2 big fits
            SDIFF fits big
            !sort SRANDMEMBER dst 100
            SSCAN fits 0
            SSCAN fits 0 MATCH 1?
            SSCAN fits 0 COUNT 3
            SSCAN nos 0
            SSCAN fits abc
            SSCAN fits 0 COUNT 0
            SSCAN fits 0 MATCH
            """);
    }

    [Fact]
    public async Task PopAndRandom()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            SADD s 1 2 3
            SPOP s 3
            EXISTS s
            SADD s 1 2 3
            SPOP s 10
            SPOP nos
            SPOP nos 3
            SADD s 1
            SPOP s 0
            SPOP s -1
            SPOP s x
            SPOP s 1 2
            SPOP s
            EXISTS s
            SADD s 1 2 3
            SRANDMEMBER s 3
            SRANDMEMBER s 10
            SRANDMEMBER s 0
            SRANDMEMBER s x
            SRANDMEMBER s 1 2
            SRANDMEMBER s -9223372036854775808
            SRANDMEMBER nos
            SRANDMEMBER nos 5
            SRANDMEMBER nos -5
            !skip HELLO 3
            SMEMBERS s
            SMEMBERS nos
            SINTER s s
            SUNION s
            SDIFF s
            SPOP s 5
            SPOP nos 2
            SPOP s 0
            """);
        // Random pops: check sizes and membership.
        await d.RunAsync("""
            SADD r 10 20 30 40 50
            SADD h x y z w v
            """);
        foreach (var args in new[] { new[] { "SPOP", "r", "2" }, ["SRANDMEMBER", "h", "-7"], ["SRANDMEMBER", "h", "2"], ["SPOP", "h"] })
        {
            var (r, k) = await d.SendBothAsync(0, args);
            Assert.Equal(RespFormat.Header(r), RespFormat.Header(k));
        }
        await d.RunAsync("""
            SCARD r
            SCARD h
            """);
    }
}

/// <summary>WATCH invalidation by the collection commands (signalModifiedKey only when redis calls it).</summary>
public class WatchTypesTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    [Theory]
    [InlineData("SADD s 1", "SADD s 1")]
    [InlineData("SADD s 1", "SADD s 2")]
    [InlineData("SADD s 1", "SREM s 9")]
    [InlineData("SADD s 1 2", "SREM s 2")]
    [InlineData("SADD s 1", "SMOVE s t 9")]
    [InlineData("SADD s 1", "SPOP s 0")]
    [InlineData("SADD s 1", "SINTERSTORE s nokey")]
    [InlineData("ZADD s 1 a", "ZADD s 1 a")]
    [InlineData("ZADD s 1 a", "ZADD s 2 a")]
    [InlineData("ZADD s 1 a", "ZREM s b")]
    [InlineData("ZADD s 1 a", "ZREMRANGEBYSCORE s 5 6")]
    [InlineData("ZADD s 1 a", "ZINCRBY s 0 a")]
    [InlineData("HSET s a 1", "HSET s a 1")]
    [InlineData("HSET s a 1", "HDEL s b")]
    [InlineData("HSET s a 1", "HSETNX s a 2")]
    [InlineData("RPUSH s a", "LREM s 0 b")]
    [InlineData("RPUSH s a", "LINSERT s BEFORE zz x")]
    [InlineData("RPUSH s a", "LTRIM s 0 -1")]
    [InlineData("RPUSH s a", "LPUSHX s b")]
    [InlineData("RPUSH s a", "LPOS s a")]
    [InlineData("RPUSH s a", "LSET s 0 a")]
    public async Task WatchedKeyInvalidation(string setup, string touch)
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync($"""
            {setup}
            WATCH s
            @1 {touch}
            MULTI
            PING
            EXEC
            """);
    }
}
