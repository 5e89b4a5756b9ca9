using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Types;

/// <summary>Differential tests of the list commands against redis-server 7.0.15 (raw replies byte for byte).</summary>
public class ListTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    [Fact]
    public async Task PushPopRangeAndErrors()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            LPUSH l a b c
            RPUSH l d e 1 -2 3.5
            LPUSHX nol x
            RPUSHX nol x
            LPUSHX l x
            RPUSHX l y z
            LLEN l
            LLEN nol
            LRANGE l 0 -1
            LRANGE l -3 -1
            LRANGE l 5 2
            LRANGE l -100 100
            LRANGE l 20 30
            LRANGE l a 1
            LRANGE nol 0 -1
            OBJECT ENCODING l
            LINDEX l 0
            LINDEX l -1
            LINDEX l 100
            LINDEX l -100
            LINDEX l x
            LINDEX nol 0
            LPOP l
            RPOP l
            LPOP l 2
            RPOP l 2
            LPOP l 0
            LPOP l -1
            LPOP l x
            LPOP nol
            LPOP nol 2
            RPOP nol 0
            LPOP l 1 2
            RPOP l 100
            EXISTS l
            RPUSH l2 a
            RPOP l2
            EXISTS l2
            SET str v
            LPUSH str a
            RPUSH str a
            LPUSHX str a
            LLEN str
            LRANGE str 0 1
            LINDEX str 0
            LPOP str
            RPOP str 2
            LSET str 0 a
            LREM str 0 a
            LTRIM str 0 1
            LINSERT str BEFORE a b
            LPOS str a
            LPUSH
            LPUSH l
            RPUSH l
            LLEN
            LRANGE l 0
            LINDEX l
            LPOP
            """);
    }

    [Fact]
    public async Task SetRemTrimInsertPos()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            RPUSH l a b c a b c a
            LSET l 0 A
            LSET l -1 Z
            LSET l 7 x
            LSET l -8 x
            LSET l x x
            LSET nol 0 x
            LRANGE l 0 -1
            LREM l 1 b
            LREM l -1 c
            LREM l 0 a
            LREM l 0 nothing
            LREM l x a
            LREM nol 0 a
            LRANGE l 0 -1
            DEL l
            RPUSH l 1 2 3 4 5 6 7 8 9
            LTRIM l 1 -2
            LRANGE l 0 -1
            LTRIM l -3 100
            LRANGE l 0 -1
            LTRIM l 2 1
            EXISTS l
            LTRIM nol 0 1
            LTRIM l a 1
            RPUSH l a b c
            LINSERT l BEFORE b x
            LINSERT l AFTER c y
            LINSERT l after a z
            LINSERT l BEFORE nope x
            LINSERT l MIDDLE a x
            LINSERT nol BEFORE a x
            LRANGE l 0 -1
            DEL l
            RPUSH l a b c 1 2 3 c b a c
            LPOS l c
            LPOS l c RANK 2
            LPOS l c RANK -1
            LPOS l c RANK -2
            LPOS l c COUNT 0
            LPOS l c COUNT 2
            LPOS l c COUNT 2 RANK 2
            LPOS l c RANK -1 COUNT 0
            LPOS l c MAXLEN 3
            LPOS l c MAXLEN 3 COUNT 0
            LPOS l c RANK 0
            LPOS l c COUNT -1
            LPOS l c MAXLEN -1
            LPOS l c RANK x
            LPOS l c FOO 1
            LPOS l c COUNT
            LPOS l nothing
            LPOS l nothing COUNT 0
            LPOS nol a
            LPOS nol a COUNT 1
            """);
    }

    [Fact]
    public async Task MoveCommands()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            RPUSH src a b c
            LMOVE src dst LEFT RIGHT
            LMOVE src dst RIGHT LEFT
            LMOVE src dst left left
            LRANGE dst 0 -1
            EXISTS src
            LMOVE src dst LEFT RIGHT
            LMOVE dst dst LEFT RIGHT
            LRANGE dst 0 -1
            LMOVE dst dst UP RIGHT
            LMOVE dst dst LEFT DOWN
            RPOPLPUSH dst other
            RPOPLPUSH nosrc other
            LRANGE other 0 -1
            SET str x
            RPOPLPUSH str other
            RPOPLPUSH other str
            LMOVE other str LEFT LEFT
            LRANGE other 0 -1
            RPOPLPUSH other
            LMOVE a b LEFT
            """);
    }

    [Fact]
    public async Task Resp3AndBinary()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            !skip HELLO 3
            RPUSH l "a\x00b" "" "\xff\xfe"
            LRANGE l 0 -1
            LPOP nol
            LPOP nol 2
            LINDEX l 9
            LPOS l x
            LPOS l x COUNT 0
            LPOP l 2
            BLPOP nol 0.01
            LMOVE nol x LEFT LEFT
            """);
    }

    [Fact]
    public async Task BigListsStayOrdered()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        var vals = string.Join(' ', Enumerable.Range(0, 300).Select(i => "v" + i));
        var big = new string('x', 9000);
        await d.RunAsync($"""
            RPUSH l {vals}
            LPUSH l {vals}
            LLEN l
            OBJECT ENCODING l
            LRANGE l 250 350
            LINDEX l 450
            LINSERT l BEFORE v150 mid
            LREM l 2 v10
            LRANGE l 290 320
            RPUSH b {big}
            OBJECT ENCODING b
            LTRIM l 100 -100
            LRANGE l 0 5
            LLEN l
            """);
    }
}
