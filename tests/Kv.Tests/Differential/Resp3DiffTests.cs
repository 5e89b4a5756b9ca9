using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>RESP3 (HELLO 3) reply types: null, double, map, set, verbatim, push, errors, transactions.</summary>
public class Resp3DiffTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    [Fact]
    public async Task Resp3Types()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            !skip HELLO 3
            GET nosuch
            MGET nosuch a
            SET a 1
            INCRBYFLOAT fl 0.1
            INCRBYFLOAT fl 1e400
            HSET h a 1 b 2
            !sortpairs HGETALL h
            HGETALL nosuch
            HMGET h a nosuch
            SADD s x
            SMEMBERS s
            ZADD z 1 a 2.5 b
            ZSCORE z b
            ZINCRBY z 0.1 a
            ZRANGE z 0 -1 WITHSCORES
            ZPOPMIN nosuch
            !sortpairs CONFIG GET maxclients
            COMMAND INFO nosuch
            !type CLIENT INFO
            !type INFO server
            LPOP nosuch
            LPOP nosuch 2
            TTL a
            EXISTS a
            OBJECT ENCODING nosuch
            MULTI
            GET a
            GET nosuch
            HGETALL h
            EXEC
            WATCH a
            @1 SET a 2
            MULTI
            PING
            EXEC
            NOSUCH
            SET a
            LPUSH a x
            SUBSCRIBE ch
            @1 PUBLISH ch hi
            !read
            PING
            UNSUBSCRIBE ch
            PING
            RESET
            GET nosuch
            """);
    }
}
