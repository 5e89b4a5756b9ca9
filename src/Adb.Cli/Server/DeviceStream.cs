using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Channels;
using Adb.Protocol;

namespace Adb.Cli.Server;

/// <summary>
/// One stream on a <see cref="DeviceTransport"/> (AOSP "remote socket"): classic flow control, one WRTE in flight
/// each way. A WRTE received is acknowledged at once while less than <see cref="AckThreshold"/> bytes wait to be
/// written to the local socket (AOSP acks as soon as the local fd accepted the bytes), later otherwise.
/// Bytes from the local socket accumulate in a pipe while a WRTE waits for its OKAY, so WRTEs are as large as
/// the device's maxdata allows (AOSP coalesces the same way).
/// </summary>
internal sealed class DeviceStream
{
    private readonly DeviceTransport _transport;
    private readonly TaskCompletionSource<bool> _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _ack = new(0, 1);
    private readonly Channel<(byte[] Buffer, int Offset, int Length)> _inbound =
        Channel.CreateUnbounded<(byte[], int, int)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private System.Net.Sockets.Socket? _direct;
    private int _closedLocal;
    private long _queued;
    private bool _ackPending;

    /// <summary>Bytes from the device that may wait for the local socket before we stop acking WRTEs: 4 MiB.</summary>
    public const int AckThreshold = 4 << 20;
    private volatile bool _remoteClosed;

    /// <summary>Our id for the stream (arg0 of what we send).</summary>
    public uint LocalId { get; }
    /// <summary>The device's id for the stream (0 until its OKAY).</summary>
    public uint RemoteId { get; private set; }
    /// <summary>Completes with true on the device's first OKAY, false on CLSE.</summary>
    public Task<bool> Opened => _opened.Task;

    /// <summary>Creates the stream with a local id.</summary>
    public DeviceStream(DeviceTransport transport, uint localId)
    {
        _transport = transport;
        LocalId = localId;
    }

    internal void OnOkay(uint remoteId)
    {
        if (RemoteId == 0)
        {
            RemoteId = remoteId;
            _opened.TrySetResult(true);
            return;
        }
        if (_ack.CurrentCount == 0) _ack.Release();
    }

    /// <summary>
    /// Takes ownership of <paramref name="rented"/> (returns true) to deliver it to the local side;
    /// <paramref name="ackNow"/> tells the caller to send the OKAY right away.
    /// </summary>
    internal bool OnWrite(byte[] rented, int len, out bool ackNow)
    {
        int offset = 0;
        lock (_inbound)
        {
            // Fast path, as AOSP's local_socket_enqueue: nothing is waiting, so write straight into the local socket
            // without blocking; only what the kernel does not take right now is queued.
            if (_queued == 0 && _direct is { } sock)
            {
                int n;
                System.Net.Sockets.SocketError err;
                try { n = sock.Send(rented, 0, len, System.Net.Sockets.SocketFlags.None, out err); }
                catch (ObjectDisposedException) { n = 0; err = System.Net.Sockets.SocketError.Shutdown; _direct = null; }
                if (err is System.Net.Sockets.SocketError.Success or System.Net.Sockets.SocketError.WouldBlock && n >= 0)
                {
                    if (n == len)
                    {
                        ackNow = true;
                        return false;
                    }
                    offset = Math.Max(n, 0);
                }
            }
            _queued += len - offset;
            ackNow = _queued < AckThreshold;
            if (!ackNow) _ackPending = true;
        }
        if (_inbound.Writer.TryWrite((rented, offset, len - offset))) return true;
        ackNow = false;
        return false;
    }

    private bool Delivered(int len)
    {
        lock (_inbound)
        {
            _queued -= len;
            if (_ackPending && _queued < AckThreshold)
            {
                _ackPending = false;
                return true;
            }
            return false;
        }
    }

    internal void OnRemoteClosed()
    {
        lock (_inbound) _direct = null;
        _remoteClosed = true;
        _opened.TrySetResult(false);
        _inbound.Writer.TryComplete();
        if (_ack.CurrentCount == 0) _ack.Release();
    }

    /// <summary>Sends bytes as WRTEs of at most MaxData, waiting for each OKAY. False once the stream is closed.</summary>
    public async Task<bool> WriteAsync(ReadOnlyMemory<byte> data)
    {
        while (data.Length > 0)
        {
            if (_remoteClosed) return false;
            int n = Math.Min(data.Length, _transport.MaxData);
            try { await _transport.SendPacketAsync(AdbCommand.WRTE, LocalId, RemoteId, data[..n]); }
            catch (Exception e) when (e is IOException or ObjectDisposedException) { return false; }
            await _ack.WaitAsync();
            if (_remoteClosed) return false;
            data = data[n..];
        }
        return true;
    }

    /// <summary>Sends CLSE once.</summary>
    public async Task CloseAsync()
    {
        if (Interlocked.Exchange(ref _closedLocal, 1) != 0) return;
        lock (_inbound) _direct = null;
        _transport.Forget(this);
        if (!_remoteClosed)
        {
            try { await _transport.SendPacketAsync(AdbCommand.CLSE, LocalId, RemoteId, ReadOnlyMemory<byte>.Empty); } catch { }
        }
        _inbound.Writer.TryComplete();
        while (_inbound.Reader.TryRead(out var item)) ArrayPool<byte>.Shared.Return(item.Buffer);
    }

    /// <summary>
    /// Pumps bytes both ways between <paramref name="local"/> and the device until either side closes; then closes both.
    /// </summary>
    /// <param name="local">The local side (client socket stream).</param>
    /// <param name="direct">The socket under <paramref name="local"/>; set to non-blocking so device data can be
    /// written to it from the transport's reader without a thread hop (async calls keep working).</param>
    public async Task RelayAsync(Stream local, System.Net.Sockets.Socket? direct = null)
    {
        if (direct != null)
        {
            try
            {
                direct.Blocking = false;
                lock (_inbound) _direct = direct;
            }
            catch (System.Net.Sockets.SocketException) { }
        }
        var up = Task.Run(() => PumpUpAsync(local));
        var down = Task.Run(async () =>
        {
            try
            {
                await foreach (var (buf, offset, len) in _inbound.Reader.ReadAllAsync())
                {
                    try
                    {
                        await local.WriteAsync(buf.AsMemory(offset, len));
                    }
                    catch { return; }
                    finally { ArrayPool<byte>.Shared.Return(buf); }
                    if (Delivered(len))
                    {
                        try { await _transport.SendPacketAsync(AdbCommand.OKAY, LocalId, RemoteId, ReadOnlyMemory<byte>.Empty); }
                        catch { return; }
                    }
                }
                try { await local.FlushAsync(); } catch { }
            }
            catch (ChannelClosedException) { }
        });
        await Task.WhenAny(up, down);
        if (down.IsCompleted)
        {
            // Device closed: close the local socket (which ends the up pump).
            await CloseAsync();
            try { local.Dispose(); } catch { }
            await up;
        }
        else
        {
            // Local EOF: close the device stream.
            await CloseAsync();
            try { local.Dispose(); } catch { }
            await down;
        }
    }

    /// <summary>Local socket → device: a fill loop feeds a pipe; the send loop takes up to MaxData per WRTE.</summary>
    private async Task PumpUpAsync(Stream local)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 8 << 20, resumeWriterThreshold: 4 << 20,
            minimumSegmentSize: 256 << 10, useSynchronizationContext: false));
        var fill = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    Memory<byte> m = pipe.Writer.GetMemory(256 << 10);
                    int n = await local.ReadAsync(m);
                    if (n == 0) break;
                    pipe.Writer.Advance(n);
                    var f = await pipe.Writer.FlushAsync();
                    if (f.IsCompleted) break;
                }
            }
            catch { }
            await pipe.Writer.CompleteAsync();
        });
        int size = Math.Max(_transport.MaxData, 4096);
        byte[] send = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            while (true)
            {
                var r = await pipe.Reader.ReadAsync();
                var buf = r.Buffer;
                if (buf.IsEmpty && r.IsCompleted) break;
                int take = (int)Math.Min(buf.Length, size);
                buf.Slice(0, take).CopyTo(send);
                pipe.Reader.AdvanceTo(buf.GetPosition(take));
                if (!await WriteAsync(send.AsMemory(0, take))) break;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(send);
            await pipe.Reader.CompleteAsync();
            await fill;
        }
    }
}
