using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Types;

/// <summary>Differential tests of the hash commands against redis-server 7.0.15 (raw replies byte for byte).</summary>
public class HashTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    [Fact]
    public async Task BasicCommandsAndErrors()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            HSET h f1 v1 f2 v2
            HSET h f1 new f3 v3
            HSET h f1
            HSET h
            HMSET h a 1 b 2
            HMSET h a
            HSETNX h a 9
            HSETNX h c 3
            HSETNX h c
            HGET h f1
            HGET h nope
            HGET noh f
            HMGET h f1 nope a
            HMGET noh a b
            HGETALL h
            HKEYS h
            HVALS h
            HGETALL noh
            HKEYS noh
            HVALS noh
            HLEN h
            HLEN noh
            HEXISTS h a
            HEXISTS h zz
            HEXISTS noh a
            HSTRLEN h f1
            HSTRLEN h zz
            HSTRLEN noh a
            OBJECT ENCODING h
            HDEL h a zz b
            HDEL h zz
            HDEL noh a
            HGETALL h
            HDEL h f1 f2 f3 c
            EXISTS h
            SET s v
            HSET s a b
            HGET s a
            HMGET s a
            HGETALL s
            HDEL s a
            HLEN s
            HINCRBY s a 1
            HINCRBYFLOAT s a 1
            HRANDFIELD s
            HSCAN s 0
            HEXISTS s a
            HSTRLEN s a
            HSETNX s a b
            """);
    }

    [Fact]
    public async Task IncrementsAndPropagatedValues()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            HINCRBY h n 5
            HINCRBY h n -7
            HINCRBY h n x
            HINCRBY h n 9223372036854775807
            HSET h big 9223372036854775807
            HINCRBY h big 1
            HSET h neg -9223372036854775808
            HINCRBY h neg -1
            HSET h str abc
            HINCRBY h str 1
            HSET h sp " 1"
            HINCRBY h sp 1
            HINCRBYFLOAT h f 1.5
            HINCRBYFLOAT h f 0.1
            HINCRBYFLOAT h f -1.6
            HINCRBYFLOAT h f 1e3
            HINCRBYFLOAT h f abc
            HINCRBYFLOAT h f inf
            HINCRBYFLOAT h f nan
            HINCRBYFLOAT h str 1
            HINCRBYFLOAT h n 2.5
            HSET h e 5e3
            HINCRBYFLOAT h e 1
            HSET h i inf
            HINCRBYFLOAT h i 1
            HINCRBYFLOAT h new 3
            HINCRBYFLOAT h new2 0.30000000000000004
            HGETALL h
            HINCRBY h
            HINCRBYFLOAT h a
            """);
    }

    [Fact]
    public async Task EncodingConversionsAndOrder()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        var fields = string.Join(' ', Enumerable.Range(0, 128).Select(i => $"f{i} {i}"));
        var longv = new string('v', 65);
        await d.RunAsync($"""
            HSET h {fields}
            OBJECT ENCODING h
            HLEN h
            HGETALL h
            HSET h f200 x
            OBJECT ENCODING h
            HLEN h
            HSET h2 a 1 b {longv}
            OBJECT ENCODING h2
            HSET h3 a {new string('v', 64)}
            OBJECT ENCODING h3
            HSETNX h3 b {longv}
            OBJECT ENCODING h3
            HSET h4 z 1 y 2 x 3
            HDEL h4 y
            HSET h4 y 4 z 5
            HGETALL h4
            HSCAN h4 0
            HSCAN h4 0 MATCH y*
            HSCAN h4 0 COUNT 1
            HSCAN h4 x
            HSCAN h4 0 COUNT 0
            HSCAN h4 0 FOO
            HSCAN noh 0
            HRANDFIELD h4 10
            HRANDFIELD h4 3 WITHVALUES
            HRANDFIELD h4 0
            HRANDFIELD noh 5
            HRANDFIELD noh
            HRANDFIELD h4 5 FOO
            HRANDFIELD h4 5 WITHVALUES x
            HRANDFIELD h4 x
            HRANDFIELD h4 -9223372036854775808
            HRANDFIELD h4 9223372036854775807 WITHVALUES
            HINCRBY h5 a 1
            OBJECT ENCODING h5
            """);
        // Big (hashtable) hashes: order differs, compare sorted.
        await d.RunAsync("""
            !sort HKEYS h
            !sort HVALS h
            HGET h f100
            !sort HRANDFIELD h 500
            """);
    }

    [Fact]
    public async Task Resp3Shapes()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            !skip HELLO 3
            HSET h a 1 b 2 c 3
            HGETALL h
            HGETALL noh
            HRANDFIELD h 3 WITHVALUES
            HGET h nope
            HMGET h a nope
            HSCAN h 0
            HINCRBYFLOAT h a 0.5
            """);
    }

    [Fact]
    public async Task RandomFieldsAreMembers()
    {
        // Random replies cannot be compared; check shape and membership against the server's own data.
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("HSET h a 1 b 2 c 3 d 4");
        foreach (var args in new[] { new[] { "HRANDFIELD", "h", "-5" }, ["HRANDFIELD", "h", "2"], ["HRANDFIELD", "h", "-3", "WITHVALUES"] })
        {
            var (r, k) = await d.SendBothAsync(0, args);
            Assert.Equal(RespFormat.Header(r), RespFormat.Header(k));
            foreach (var e in RespFormat.Elements(k)!)
                Assert.Contains(RespFormat.Text(e), new[] { "a", "b", "c", "d", "1", "2", "3", "4" });
        }
        var (r1, k1) = await d.SendBothAsync(0, "HRANDFIELD", "h");
        Assert.Equal(r1[0], k1[0]);
    }
}
