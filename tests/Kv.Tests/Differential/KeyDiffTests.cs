using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>Keyspace commands (DEL, EXISTS, TYPE, RENAME, MOVE, COPY, KEYS, SCAN, OBJECT...), compared with redis.</summary>
public class KeyDiffTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private async Task Run(string script)
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(script);
    }

    [Fact]
    public Task DelExistsType() => Run("""
        MSET a 1 b 2 c 3
        RPUSH l x y
        SADD s m
        HSET h f v
        ZADD z 1 m
        EXISTS a
        EXISTS a a b nosuch
        EXISTS
        TYPE a
        TYPE l
        TYPE s
        TYPE h
        TYPE z
        TYPE nosuch
        TYPE a b
        DEL a
        DEL a
        DEL b c nosuch b
        DEL
        UNLINK l s
        UNLINK nosuch
        UNLINK
        TOUCH h z nosuch
        TOUCH
        DBSIZE
        DBSIZE x
        !sort KEYS *
        KEYS nomatch*
        FLUSHDB
        DBSIZE
        """);

    [Fact]
    public Task KeysPatterns() => Run("""
        MSET hello 1 hallo 2 hxllo 3 hllo 4 heeeello 5 "h*llo" 6 "a[b" 7 foo 8 "f\\oo" 9 x 10
        !sort KEYS *
        !sort KEYS h?llo
        !sort KEYS h*llo
        !sort KEYS h[ae]llo
        !sort KEYS h[^e]llo
        !sort KEYS h[a-b]llo
        !sort KEYS h\*llo
        !sort KEYS a[b
        !sort KEYS "a\\[b"
        !sort KEYS *o
        !sort KEYS f\\oo
        !sort KEYS [
        !sort KEYS ?
        !sort KEYS [x-a]
        !sort KEYS h[!a]llo
        !sort KEYS *[
        !sort KEYS "h\\"
        KEYS
        KEYS a b
        """);

    [Fact]
    public Task RenameMoveCopy() => Run("""
        SET a 1
        RENAME a b
        GET a
        GET b
        RENAME nosuch x
        RENAME b b
        RENAME nosuch nosuch
        SET c 3
        RENAMENX b c
        RENAMENX b d
        RENAMENX d d
        RENAMENX nosuch e
        SET t v EX 100
        RENAME t t2
        TTL t2
        RENAME
        RENAME a
        MOVE d 1
        MOVE d 1
        EXISTS d
        SELECT 1
        GET d
        SET d other
        MOVE d 0
        SELECT 0
        MOVE nosuch 1
        MOVE c 0
        MOVE c 16
        MOVE c -1
        MOVE c abc
        SET m 1
        SELECT 1
        SET m 2
        SELECT 0
        MOVE m 1
        GET m
        COPY c c2
        GET c2
        COPY c c2
        COPY c c2 REPLACE
        COPY c c DB 0
        COPY c c
        COPY c c3 DB 1
        SELECT 1
        GET c3
        SELECT 0
        COPY c c4 DB 16
        COPY c c4 DB abc
        COPY c c4 FOO
        COPY nosuch c5
        RPUSH l 1 2 3
        COPY l l2
        LRANGE l2 0 -1
        HSET h a 1 b 2
        COPY h h2
        HGETALL h2
        SADD s 1 2 3
        COPY s s2
        !sort SMEMBERS s2
        ZADD z 1 a 2 b
        COPY z z2
        ZRANGE z2 0 -1 WITHSCORES
        SET e v PX 100000
        COPY e e2
        !approx 100 PTTL e2
        """);

    [Fact]
    public Task SwapDbAndSelect() => Run("""
        SET a 0
        SELECT 1
        SET a 1
        SELECT 0
        SWAPDB 0 1
        GET a
        SELECT 1
        GET a
        SELECT 0
        SWAPDB 0 0
        SWAPDB 0 16
        SWAPDB 0 -1
        SWAPDB a 1
        SWAPDB 0
        SELECT 16
        SELECT -1
        SELECT abc
        SELECT 1.0
        SELECT
        SELECT 15
        SET x 1
        DBSIZE
        FLUSHALL
        DBSIZE
        SELECT 0
        """);

    [Fact]
    public Task ScanFamily() => Run("""
        MSET k1 1 k2 2 k3 3 other 4
        RPUSH lst 1
        !sort SCAN 0 COUNT 100
        !sort SCAN 0 MATCH k* COUNT 100
        !sort SCAN 0 TYPE list COUNT 100
        !sort SCAN 0 TYPE string COUNT 100
        SCAN 0 TYPE nosuchtype
        SCAN 0 COUNT 0
        SCAN 0 COUNT -1
        SCAN 0 COUNT abc
        SCAN 0 MATCH
        SCAN 0 FOO bar
        SCAN abc
        !type SCAN -1
        !type SCAN 18446744073709551615 COUNT 100
        !sort SCAN +0 COUNT 100
        !sort SCAN "" COUNT 100
        SCAN - COUNT 100
        SCAN " 0"
        SCAN "0 "
        SCAN 0x0
        SCAN -18446744073709551616
        SCAN 18446744073709551616
        SCAN
        FLUSHALL
        SCAN 0
        """);

    [Fact]
    public Task ObjectAndRandom() => Run("""
        SET i 123
        SET s abc
        SET big 12345678901234567890
        SET emb aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        SET raw aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        APPEND app x
        OBJECT ENCODING i
        OBJECT ENCODING s
        OBJECT ENCODING big
        OBJECT ENCODING emb
        OBJECT ENCODING raw
        OBJECT ENCODING app
        OBJECT ENCODING nosuch
        OBJECT REFCOUNT s
        OBJECT REFCOUNT nosuch
        !approx 1 OBJECT IDLETIME s
        OBJECT IDLETIME nosuch
        OBJECT FREQ s
        OBJECT FOO s
        OBJECT
        OBJECT ENCODING
        SET n -5
        OBJECT ENCODING n
        SET n 00
        OBJECT ENCODING n
        SET n 9223372036854775807
        OBJECT ENCODING n
        SET n 9223372036854775808
        OBJECT ENCODING n
        SET n " 5"
        OBJECT ENCODING n
        FLUSHALL
        RANDOMKEY
        SET only 1
        RANDOMKEY
        RANDOMKEY x
        """);
}
