	.section .text.entry, "ax"
	.globl _start
_start:
	xorl %ebp, %ebp		/* ends the frame chain for dump_stack */
	andq $-16, %rsp
	call main
	movl %eax, %edi
	call sys_exit
	.section .note.GNU-stack, "", %progbits
