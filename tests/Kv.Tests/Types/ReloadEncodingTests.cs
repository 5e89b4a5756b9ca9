using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Types;

/// <summary>Both servers with DEBUG enabled (for DEBUG RELOAD and DEBUG DIGEST-VALUE).</summary>
public sealed class DebugPairFixture : ServerPairFixture
{
    /// <inheritdoc/>
    protected override string[] ExtraArgs => ["--enable-debug-command", "yes"];
}

/// <summary>
/// Encodings and contents across DEBUG RELOAD (RDB save + load), compared with redis-server 7.0.15: values that
/// shrank below the limits come back in the compact encodings, as rdbLoadObject converts them.
/// </summary>
public class ReloadEncodingTests(DebugPairFixture pair, ITestOutputHelper output) : IClassFixture<DebugPairFixture>
{
    [Fact]
    public async Task EncodingsAfterReload()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        var members = string.Join(' ', Enumerable.Range(0, 200).Select(i => $"{i} m{i}"));
        var ints = string.Join(' ', Enumerable.Range(0, 600));
        var fields = string.Join(' ', Enumerable.Range(0, 600).Select(i => $"f{i} v"));
        await d.RunAsync($"""
            ZADD z {members}
            ZREMRANGEBYRANK z 0 149
            OBJECT ENCODING z
            SADD s {ints}
            SREM s {string.Join(' ', Enumerable.Range(0, 500))}
            OBJECT ENCODING s
            HSET h {fields}
            HDEL h {string.Join(' ', Enumerable.Range(0, 550).Select(i => $"f{i}"))}
            OBJECT ENCODING h
            SADD mixed 1 2 a
            SREM mixed a
            OBJECT ENCODING mixed
            RPUSH l a b c
            ZADD small 1 a 2 b
            HSET hs a 1 b 2
            SADD si 3 1 2
            DEBUG DIGEST-VALUE z s h mixed l small hs si
            DEBUG RELOAD
            OBJECT ENCODING z
            OBJECT ENCODING s
            OBJECT ENCODING h
            OBJECT ENCODING mixed
            OBJECT ENCODING l
            OBJECT ENCODING small
            OBJECT ENCODING hs
            OBJECT ENCODING si
            ZRANGE z 0 -1 WITHSCORES
            SMEMBERS s
            HGETALL hs
            SMEMBERS si
            SMEMBERS mixed
            DEBUG DIGEST-VALUE z s h mixed l small hs si
            """);
    }
}
